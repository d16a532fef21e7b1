"""Is a validation-loss explosion the weights or batch norm's running statistics? (issue 14, docs/training.md)

Trains the small spec on digits with ``ibench train``'s defaults for three epochs and, after each, evaluates the
same weights five ways: the raw weights with their running statistics (what eval mode uses), with the validation
batch's own statistics, and with statistics recomputed over the epoch's training batches (cumulative average,
"precise BN"); the weight average (EMA) with its averaged buffers, and with recomputed statistics.

    python scripts/bn_stats_check.py [SEED]
Named by: docs/training.md (issue 14's batch-norm statistics finding).
"""

from __future__ import annotations

import copy
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from inception_bench.run.engine import evaluate_loader
from inception_bench.run.settings import Recipe
from inception_bench.run.setup import Run, setup
from inception_bench.run.train import train_epoch
from inception_bench.spec import load_spec
from inception_bench.store import RunFolder


def report(label: str, loss: float, top1: float) -> None:
    print(f"  {label:42s} val loss {loss:10.3f}  top-1 {top1:.3f}")


def with_val_batch_stats(run: Run, model: nn.Module) -> tuple[float, float]:
    model.eval()
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.train()  # normalise each validation batch with its own statistics (they are also updated: a copy)
    total = n = correct = 0.0
    with torch.no_grad():
        for x, y in run.val_loader:
            with run.autocast():
                logits = model(x).float()
            total += F.cross_entropy(logits, y, reduction="sum").item()
            correct += (logits.argmax(1) == y).sum().item()
            n += len(y)
    return total / n, correct / n


def recomputed(run: Run, model: nn.Module, epoch: int) -> nn.Module:
    """A copy whose BN statistics are the cumulative average over the epoch's training batches."""
    copied: Any = copy.deepcopy(model)
    for m in copied.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    copied.train()
    run.train_loader.set_epoch(epoch)
    with torch.no_grad():
        for x, _ in run.train_loader:
            with run.autocast():
                copied(x.contiguous(memory_format=torch.channels_last))
    return copied


def main(seed: int) -> None:
    out = Path(tempfile.mkdtemp()) / "run"
    try:
        recipe = Recipe(data="digits", epochs=8, seed=seed, workers=0)
        run = setup(load_spec("specs/googlenet-small.yaml"), recipe, RunFolder(out))
        assert run.averaged is not None
        for epoch in range(3):
            loss, _, _ = train_epoch(run, epoch)
            run.scheduler.step()
            print(f"epoch {epoch + 1}: train loss {loss:.3f}")
            for label, model in (("raw", run.model), ("EMA", run.averaged.module)):
                r = evaluate_loader(model, run.val_loader, run.device, run.autocast)
                report(f"{label}, eval mode (running statistics)", r["loss"], r["top1"])
                if label == "raw":
                    report("raw, BN on the validation batch", *with_val_batch_stats(run, copy.deepcopy(model)))
                r = evaluate_loader(recomputed(run, model, epoch), run.val_loader, run.device, run.autocast)
                report(f"{label}, BN recomputed on training batches", r["loss"], r["top1"])
            run.model.train()
    finally:
        shutil.rmtree(out.parent, ignore_errors=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
