"""Run by test_train.py under torchrun (2 processes, gloo): a real training run's setup and two epochs on each
rank, then every rank's parameters gathered on rank 0, which writes what it found to ``argv[1]/probe.json``."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch
import torch.distributed as dist

from inception_bench.run.settings import Recipe
from inception_bench.run.setup import setup
from inception_bench.run.train import train_epoch
from inception_bench.spec import load_spec
from inception_bench.store import RunFolder

SMALL = Path(__file__).resolve().parents[1] / "specs" / "googlenet-small.yaml"

out = Path(sys.argv[1])
recipe = Recipe(data="synthetic", epochs=2, batch_size=32, lr=0.05, schedule="cosine", seed=3, device="cpu", workers=0)
run = setup(load_spec(SMALL, {"width_mult": 0.125}), recipe, RunFolder(out))
before = torch.cat([p.detach().flatten() for p in run.model.parameters()])
seen = [run.train_loader.epoch_indices(epoch) for epoch in (0, 1)]  # the samples this rank trains on
steps = []
for epoch in range(2):
    train_epoch(run, epoch)
    steps.append(len(run.train_loader))
after = torch.cat([p.detach().flatten() for p in run.model.parameters()])
gathered = [torch.zeros_like(after) for _ in range(dist.get_world_size())]
dist.all_gather(gathered, after)
samples: list = [None] * dist.get_world_size()
dist.all_gather_object(samples, seen)
if dist.get_rank() == 0:
    result = {
        "world_size": dist.get_world_size(),
        "max_difference_between_ranks": max((g - gathered[0]).abs().max().item() for g in gathered),
        "moved": (after - before).abs().max().item(),
        "steps_per_epoch": steps,
        "samples": samples,  # [rank][epoch] -> indices
    }
    (out / "probe.json").write_text(json.dumps(result))
dist.destroy_process_group()
