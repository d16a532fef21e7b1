"""Issue 25's probe: which part of a training run makes the small spec collapse to chance on a colour folder whose
digits come in either polarity (``python scripts/make_image_folder.py colour /tmp/colour-folder``).

A plain loop over ``load_data``'s training split (the same decode, resize, pad-and-crop, flip and normalisation as
``ibench train``), seed 0, batch 64, a linear warm-up over ``warm`` steps to ``lr`` and then a constant rate (so
that a run is judged on its first ``steps`` steps, not on a schedule's end), SGD with Nesterov momentum 0.9 and
weight decay 2e-4 (or Adam), the gradients' global norm clipped to ``clip``, bf16 autocast, the aux heads weighted
0.3. It prints the main head's cross-entropy averaged over each 40 steps: chance is ln 10 = 2.303, and a run
that collapses sits there with a gradient norm of about 0.2.

    python scripts/collapse_probe.py [KEY=VALUE ...]
      model=googlenet|cnn|deepcnn  the small spec at width 0.25 (default), a 4-layer CNN, an 18-layer plain CNN
      width=0.25 spec.FIELD=V      the small spec's width and overrides (spec.aux.attach=3b,4d for a list)
      data=imagefolder:PATH        default imagefolder:/tmp/colour-folder
      lr=0.15 warm=66 steps=400 clip=2 wd=2e-4 opt=sgd|adam
      fp32=1                       no autocast
      std=1                        each image standardised to mean 0 and std 1 (over its pixels and channels)
      zero=1                       the main and aux classifiers start at zero (uniform predictions)
      agc=L                        adaptive gradient clipping (Brock et al. 2021) at L, classifiers excepted
      bnbias=B                     every batch norm's bias (beta) starts at B instead of 0
Named by: results/colour-collapse-2026-12-06, docs/training.md.
"""

from __future__ import annotations

import sys

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from inception_bench.data import load_data
from inception_bench.models import build_model
from inception_bench.run.engine import loss_fn
from inception_bench.spec import resolve_spec


def block(i: int, o: int) -> list[nn.Module]:
    return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o), nn.ReLU()]


def cnn() -> nn.Module:
    """The 4-layer CNN: 32-64-128-128 channels, a 2x2 max pool after each of the first three."""
    layers = [*block(3, 32), nn.MaxPool2d(2), *block(32, 64), nn.MaxPool2d(2), *block(64, 128), nn.MaxPool2d(2)]
    return nn.Sequential(*layers, *block(128, 128), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


DEEP = [(3, 32, 0), (32, 32, 0), (32, 32, 1), (32, 64, 0), (64, 64, 0), (64, 64, 0), (64, 64, 1)]
DEEP += [(64, 128, 0)] + [(128, 128, 0)] * 5 + [(128, 128, 1)] + [(128, 128, 0)] * 4


def deep_cnn() -> nn.Module:
    """The same kind of layers 18 deep (GoogLeNet's depth, no shortcuts), three 2x2 max pools."""
    layers: list[nn.Module] = []
    for i, o, pool in DEEP:
        layers += block(i, o) + ([nn.MaxPool2d(2)] if pool else [])
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(128, 10))


def googlenet(args: dict[str, str]) -> nn.Module:
    over: dict[str, object] = {"width_mult": float(args.get("width", 0.25))}
    for k, v in args.items():
        if k.startswith("spec."):
            over[k[5:]] = v.split(",") if k == "spec.aux.attach" else v
    model = build_model(resolve_spec("small", over).spec)
    if args.get("zero") == "1":
        for layer in [model.head.fc] + [h.classifier for h in model.aux_heads.values()]:
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    return model


@torch.no_grad()
def adaptive_clip(model: nn.Module, lam: float) -> None:
    """Each unit's gradient at most ``lam`` times its weights' norm (at least 1e-3); the classifiers unclipped."""
    for name, p in model.named_parameters():
        if p.grad is None or name.startswith("head.fc") or "classifier" in name:
            continue
        dims = tuple(range(1, p.ndim)) if p.ndim > 1 else None
        weight = (torch.linalg.vector_norm(p, dim=dims, keepdim=True) if dims else p.abs()).clamp_min(1e-3)
        grad = (torch.linalg.vector_norm(p.grad, dim=dims, keepdim=True) if dims else p.grad.abs()).clamp_min(1e-6)
        p.grad.mul_(torch.clamp(lam * weight / grad, max=1.0))


def main(argv: list[str]) -> None:
    torch.manual_seed(0)
    args = dict(a.split("=") for a in argv)
    bundle = load_data(args.get("data", "imagefolder:/tmp/colour-folder"), image_size=32)
    loader = DataLoader(bundle.train, batch_size=64, shuffle=True, num_workers=1, drop_last=True)
    kind = args.get("model", "googlenet")
    model = cnn() if kind == "cnn" else deep_cnn() if kind == "deepcnn" else googlenet(args)
    if "bnbias" in args:
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                nn.init.constant_(m.bias, float(args["bnbias"]))
    lr, steps, warm = float(args.get("lr", 0.15)), int(args.get("steps", 400)), int(args.get("warm", 66))
    optimizer: torch.optim.Optimizer
    if args.get("opt") == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    else:
        wd = float(args.get("wd", 2e-4))
        optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=wd)
    clip, standardise = float(args.get("clip", 2)), args.get("std") == "1"
    step, losses = 0, []
    while step < steps:
        for x, y in loader:
            for group in optimizer.param_groups:
                group["lr"] = lr * min(1.0, (step + 1) / (warm + 1))
            if standardise:
                x = (x - x.mean((1, 2, 3), keepdim=True)) / x.std((1, 2, 3), keepdim=True).clamp_min(1e-3)
            with torch.autocast("cpu", torch.bfloat16, enabled=args.get("fp32") != "1"):
                out = model(x.contiguous(memory_format=torch.channels_last))
            loss = loss_fn(out, y, 0.3)
            losses.append(F.cross_entropy((out.logits if hasattr(out, "logits") else out).float(), y).item())
            optimizer.zero_grad()
            loss.backward()
            if args.get("agc"):
                adaptive_clip(model, float(args["agc"]))
            norm = torch.nn.utils.clip_grad_norm_(model.parameters(), clip if clip > 0 else 1e9)
            optimizer.step()
            if step % 40 == 39:
                print(
                    f"{argv} step {step + 1} main-loss(avg40) {sum(losses[-40:]) / 40:.3f} gnorm {norm:.2f}", flush=True
                )
            step += 1
            if step >= steps:
                break


if __name__ == "__main__":
    main(sys.argv[1:])
