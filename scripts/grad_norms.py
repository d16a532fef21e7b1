"""Gradient norms per block of a freshly initialised network on one batch of digits (issue 14's measurement of
where the gradient is at the start of training), with the weight norm of each block for scale.

    python scripts/grad_norms.py [--set KEY=VALUE ...]     # e.g. --set init=kaiming_in
Named by: docs/training.md (issue 14's gradient norms).
"""

from __future__ import annotations

import sys
from collections import defaultdict

import torch

from inception_bench.data import load_data
from inception_bench.models import build_model
from inception_bench.run.engine import loss_fn
from inception_bench.spec import load_spec


def main(argv: list[str]) -> None:
    sets = dict(a.split("=", 1) for a in argv if "=" in a)
    torch.manual_seed(0)
    spec = load_spec("specs/googlenet-small.yaml", sets).spec
    images, labels = load_data("digits").val_tensors
    model = build_model(spec).train()
    loss = loss_fn(model(images[:64]), labels[:64], spec.aux.loss_weight)
    loss.backward()
    grad: dict[str, float] = defaultdict(float)
    weight: dict[str, float] = defaultdict(float)
    for name, p in model.named_parameters():
        block = ".".join(name.split(".")[:2]) if name.startswith(("stem", "aux")) else ".".join(name.split(".")[:3])
        grad[block] += float(p.grad.norm() ** 2) if p.grad is not None else 0.0
        weight[block] += float(p.detach().norm() ** 2)
    total = sum(grad.values()) ** 0.5
    print(f"{sets or 'defaults'}: loss {float(loss.detach()):.3f}, global gradient norm {total:.1f}")
    print("| block | gradient norm | weight norm |\n|---|---|---|")
    for block in grad:
        print(f"| {block} | {grad[block] ** 0.5:.2f} | {weight[block] ** 0.5:.2f} |")


if __name__ == "__main__":
    main(sys.argv[1:])
