"""Whole-network totals in Table 1's conventions, cheaply: for run records, benchmarks and the Python API.

- ``params``: conv and linear weights (no biases, no batch norm) of the inference network, aux heads excluded.
- ``macs``: multiply-adds of one image through the inference network (eval mode, so aux heads do not run),
  counted by torch's ``FlopCounterMode`` (conv and matmul; 2 FLOPs = 1 multiply-add) at the model's input size.
- ``params_all``: every parameter of the inference network (biases and batch norm included);
  ``params_with_aux`` adds the aux heads; ``aux_params`` is the aux heads' conv/linear weights.

:func:`totals` builds the spec's network on PyTorch's meta device (shapes only: nothing is allocated or
computed), so it takes a fraction of a second even for the paper's 224 px network. The per-row report of
``ibench count`` (:mod:`inception_bench.count.table`) counts with fvcore instead; the tests hold the two equal.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from inception_bench.spec import Spec


@dataclass(frozen=True)
class Totals:
    """A network's totals (see the module docstring for the conventions)."""

    params: int
    macs: int
    params_all: int
    params_with_aux: int
    aux_params: int
    input_size: int


def _aux_heads(model: nn.Module) -> list[nn.Module]:
    """Our GoogLeNet's aux heads, or the top-level ``aux*`` children of another model (torchvision's)."""
    heads = getattr(model, "aux_heads", None)
    if isinstance(heads, dict):
        return list(heads.values())
    return [child for name, child in model.named_children() if name.startswith("aux")]


def _weights(modules: list[nn.Module]) -> int:
    return sum(m.weight.numel() for m in modules if isinstance(m, nn.Conv2d | nn.Linear))


def count_model(model: nn.Module, input_size: int | None = None, in_channels: int = 3) -> Totals:
    """Totals of ``model`` (ours, or any classifier such as torchvision's googlenet) for one
    ``in_channels x input_size x input_size`` image (default: the spec's size for our models, else 224). The
    model is left in the mode and on the device it was in."""
    spec = getattr(model, "spec", None)
    if isinstance(spec, Spec):
        input_size, in_channels = input_size or spec.input_size, spec.in_channels
    size = input_size or 224
    aux = {id(m) for head in _aux_heads(model) for m in head.modules()}
    aux_params = {id(p) for head in _aux_heads(model) for p in head.parameters()}
    inference = [m for m in model.modules() if id(m) not in aux]
    first = next(model.parameters(), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter, torch.no_grad():
            model(torch.zeros(1, in_channels, size, size, device=device, dtype=dtype))
    finally:
        model.train(training)
    return Totals(
        params=_weights(inference),
        macs=counter.get_total_flops() // 2,
        params_all=sum(p.numel() for p in model.parameters() if id(p) not in aux_params),
        params_with_aux=sum(p.numel() for p in model.parameters()),
        aux_params=_weights([m for m in model.modules() if id(m) in aux]),
        input_size=size,
    )


def totals(spec: Spec) -> Totals:
    """Totals of the network ``spec`` describes, built on the meta device (no memory, no arithmetic)."""
    from inception_bench.models import GoogLeNet

    with torch.device("meta"):
        model = GoogLeNet(spec)
    return count_model(model)
