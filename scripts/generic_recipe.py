"""A tuned generic recipe to hold ``ibench train``'s defaults against (issue 14), written as a plain PyTorch loop
that shares nothing with ``inception_bench.run.train`` but the network (``build_model`` of the spec, aux heads weighted
0.3 as the spec says) and the data splits (``load_data``, pad-and-crop augmentation): SGD with Nesterov momentum
0.9 and weight decay 5e-4, ``OneCycleLR`` per step, label smoothing 0.1, gradients clipped to norm 1, no weight
average, bf16 autocast and channels_last on the CPU. Its peak learning rate is tuned: each candidate trains once
and is scored on the validation split; the best one's test score is the recipe's result. ``--no-nesterov``,
``--no-cycle-momentum`` and ``--schedule warmup-cosine`` take parts of it away, to find what it owes its score to
(``docs/training.md``, section 6). ``--model cnn`` trains a plain 5-layer CNN instead (four 3x3 conv-BN-ReLU layers of
32, 64, 128 and 128 channels, a 2x2 max pool after each of the first three, global average pool, linear) and
``--optimizer adam`` uses AdamW (weight decay 5e-4, its beta1 cycled by OneCycleLR): the plain reference of issue
25 (``--model cnn --optimizer adam --lrs 0.0003 0.001 0.003``).

    python scripts/generic_recipe.py imagefolder:/tmp/scatter-folder --epochs 8 --out generic.json
Named by: results/defaults-vs-generic-2026-12-01, results/bn-bias-check-2026-12-06, docs/training.md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from inception_bench.data import load_data
from inception_bench.models import build_model
from inception_bench.spec import load_spec


def plain_cnn(num_classes: int) -> torch.nn.Module:
    def block(i: int, o: int) -> list[torch.nn.Module]:
        return [torch.nn.Conv2d(i, o, 3, padding=1), torch.nn.BatchNorm2d(o), torch.nn.ReLU()]

    pool = torch.nn.MaxPool2d(2)
    layers = [*block(3, 32), pool, *block(32, 64), pool, *block(64, 128), pool, *block(128, 128)]
    head = [torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(128, num_classes)]
    return torch.nn.Sequential(*layers, *head)


def accuracy(model: torch.nn.Module, loader: DataLoader) -> float:
    model.eval()
    right = total = 0
    with torch.no_grad(), torch.autocast("cpu", torch.bfloat16):
        for images, labels in loader:
            logits = model(images.contiguous(memory_format=torch.channels_last))
            right += int((logits.float().argmax(1) == labels).sum())
            total += len(labels)
    return right / total


def schedule_for(
    optimizer: torch.optim.Optimizer, name: str, lr: float, total: int, cycle_momentum: bool
) -> torch.optim.lr_scheduler.LRScheduler:
    """``onecycle`` (the recipe's) or ``warmup-cosine`` (ibench's shape: linear warm-up over 30% of the run, cosine
    to 0), to tell the schedule's shape apart from the rest of the recipe."""
    lrs = torch.optim.lr_scheduler
    if name == "onecycle":
        return lrs.OneCycleLR(optimizer, max_lr=lr, total_steps=total, cycle_momentum=cycle_momentum)
    warmup = round(0.3 * total)
    linear = lrs.LinearLR(optimizer, start_factor=1 / (warmup + 1), total_iters=warmup)
    return lrs.SequentialLR(optimizer, [linear, lrs.CosineAnnealingLR(optimizer, T_max=total - warmup)], [warmup])


def train_once(
    data: str,
    epochs: int,
    lr: float,
    seed: int,
    nesterov: bool = True,
    cycle_momentum: bool = True,
    schedule: str = "onecycle",
    model_name: str = "small",
    optimizer_name: str = "sgd",
) -> dict[str, Any]:
    torch.manual_seed(seed)
    spec = load_spec("specs/googlenet-small.yaml").spec
    bundle = load_data(data, image_size=spec.input_size, recipe="plain", seed=seed)
    train = DataLoader(bundle.train, batch_size=64, shuffle=True, num_workers=2, drop_last=True)
    val = DataLoader(bundle.val, batch_size=256, num_workers=2)
    model = build_model(spec) if model_name == "small" else plain_cnn(bundle.num_classes)
    model = model.to(memory_format=torch.channels_last)
    optimizer: torch.optim.Optimizer
    if optimizer_name == "adam":
        optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    else:
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=nesterov, weight_decay=5e-4)
    scheduler = schedule_for(optimizer, schedule, lr, epochs * len(train), cycle_momentum)
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for images, labels in train:
            with torch.autocast("cpu", torch.bfloat16):
                out = model(images.contiguous(memory_format=torch.channels_last))
            logits, aux_logits = (out, ()) if isinstance(out, torch.Tensor) else (out.logits, out.aux)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=0.1)
            for aux in aux_logits:
                loss = loss + spec.aux.loss_weight * F.cross_entropy(aux.float(), labels, label_smoothing=0.1)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            scheduler.step()
    result = {"lr": lr, "val_top1": accuracy(model, val), "seconds": time.perf_counter() - started}
    if bundle.test is not None:
        result["test_top1"] = accuracy(model, DataLoader(bundle.test, batch_size=256, num_workers=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--lrs", type=float, nargs="+", default=[0.03, 0.1, 0.3])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--no-nesterov", action="store_true", help="plain momentum (to measure what Nesterov's buys)")
    parser.add_argument("--no-cycle-momentum", action="store_true", help="momentum fixed at 0.9 (OneCycleLR cycles it)")
    parser.add_argument("--schedule", choices=["onecycle", "warmup-cosine"], default="onecycle")
    parser.add_argument("--model", choices=["small", "cnn"], default="small", help="the small spec or a plain CNN")
    parser.add_argument("--optimizer", choices=["sgd", "adam"], default="sgd", help="SGD (Nesterov) or AdamW")
    args = parser.parse_args()
    runs = []
    for lr in args.lrs:
        runs.append(
            train_once(
                args.data,
                args.epochs,
                lr,
                args.seed,
                not args.no_nesterov,
                not args.no_cycle_momentum,
                args.schedule,
                args.model,
                args.optimizer,
            )
        )
        print(json.dumps(runs[-1]), flush=True)
    best = max(runs, key=lambda r: r["val_top1"])
    summary = {
        "data": args.data,
        "epochs": args.epochs,
        "seed": args.seed,
        "nesterov": not args.no_nesterov,
        "cycle_momentum": not args.no_cycle_momentum and args.schedule == "onecycle",
        "schedule": args.schedule,
        "model": args.model,
        "optimizer": args.optimizer,
        "candidates": runs,
        "chosen": best,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"chosen lr {best['lr']}: val top-1 {best['val_top1']:.2%}, test top-1 {best.get('test_top1', 0):.2%}")


if __name__ == "__main__":
    main()
