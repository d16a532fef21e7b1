"""GoogLeNet assembled from a :class:`~inception_bench.spec.Spec`.

The network's attributes follow the table: ``conv1``, ``maxpool1``, ``conv2`` (``.reduce`` 1x1 and ``.conv``
3x3), ``maxpool2``, ``inception3a`` ... ``inception5b``, ``avgpool``, ``dropout``, ``fc``; auxiliary heads are
``aux1``, ``aux2``, ... in the order of ``spec.aux.attach``.

Outputs: in eval mode (or with the aux heads off) ``forward`` returns the main logits, a tensor
``(N, num_classes)``. In training mode with aux heads it returns :class:`GoogLeNetOutputs` ``(logits, aux)``
with ``aux`` a tuple of aux logits in attach order; the heads are not run at inference.

Weight init (``spec.init``): ``xavier`` - Xavier-uniform conv/linear weights, conv biases 0.2 and linear
biases 0 (the paper's DistBelief init is unpublished; this is the BVLC reproduction's); ``kaiming`` - He
normal (fan out) with zero biases; ``trunc_normal`` - torchvision's truncated normal (std 0.01, cut at +-2).
Batch norm starts at weight 1, bias 0.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from inception_bench.models.blocks import (
    AuxClassifier,
    ConvBlock,
    InceptionNaive,
    InceptionReduced,
    SeparableStem,
)
from inception_bench.spec import (
    AvgPoolRow,
    ConvRow,
    DropoutRow,
    InceptionRow,
    LinearRow,
    MaxPoolRow,
    PlannedLayer,
    Spec,
    aux_pool_out,
    parse_patch,
)


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with aux heads: main ``logits`` and ``aux`` logits in attach order."""

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...]


class GoogLeNet(nn.Module):
    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.transform_input = spec.transform_input
        self.plan: list[PlannedLayer] = spec.plan()
        self.layer_names: list[str] = []
        self.aux_after: dict[str, str] = {}
        for layer in self.plan:
            module = _build_layer(spec, layer)
            if module is not None:
                self.add_module(layer.attr, module)
                self.layer_names.append(layer.attr)
        if spec.aux.enabled:
            for i, point in enumerate(spec.aux.attach, start=1):
                layer = next(p for p in self.plan if p.attr == f"inception{point}")
                self.add_module(f"aux{i}", _build_aux(spec, layer))
                self.aux_after[layer.attr] = f"aux{i}"
        _init_weights(self, spec.init)

    def fuse_1x1(self, enabled: bool = True) -> GoogLeNet:
        """Run each reduced Inception module's 1x1 convolutions on its input as one convolution (see
        :class:`InceptionReduced`): an execution option that keeps the weights, the state dict and the counts.
        Naive modules have no 1x1 convolutions to fuse. Returns the model."""
        for module in self.modules():
            if isinstance(module, InceptionReduced):
                module.fused_1x1 = enabled
        return self

    def space_to_depth_stem(self, enabled: bool = True) -> GoogLeNet:
        """Run conv1 on 2x2 space-to-depth blocks of the image (:func:`space_to_depth_conv`): an execution option
        that keeps the weights, the state dict, the counts and the function. Needs a plain stride-2 conv1 (not
        the separable stem). Returns the model."""
        conv1 = getattr(self, "conv1", None)
        if not isinstance(conv1, ConvBlock):
            raise ValueError("the space-to-depth stem needs a plain conv1, not the separable stem")
        if conv1.conv.stride != (2, 2):
            k, stride = conv1.conv.kernel_size[0], conv1.conv.stride[0]
            raise ValueError(f"the space-to-depth stem needs a stride-2 conv1; this spec's is {k}x{k}/{stride}")
        conv1.space_to_depth = enabled
        return self

    @property
    def s2d_stem(self) -> bool:
        """Whether conv1 runs on space-to-depth blocks."""
        return bool(getattr(getattr(self, "conv1", None), "space_to_depth", False))

    @property
    def fused_1x1(self) -> bool:
        """Whether any Inception module runs its 1x1 convolutions fused (never for naive modules)."""
        return any(isinstance(m, InceptionReduced) and m.fused_1x1 for m in self.modules())

    def _transform(self, x: torch.Tensor) -> torch.Tensor:
        # torchvision's transform_input: re-normalise from ImageNet mean/std to the (x - 0.5) / 0.5 its
        # ported TF-slim weights expect.
        mean = torch.tensor([0.485, 0.456, 0.406], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        std = torch.tensor([0.229, 0.224, 0.225], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
        return (x * std + mean - 0.5) / 0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = self._transform(x)
        run_aux = self.training and bool(self.aux_after)
        aux: list[torch.Tensor] = []
        for name in self.layer_names:
            if name == "fc":
                x = torch.flatten(x, 1)
            x = getattr(self, name)(x)
            if run_aux and name in self.aux_after:
                aux.append(getattr(self, self.aux_after[name])(x))
        if run_aux:
            return GoogLeNetOutputs(x, tuple(aux))
        return x


def _build_layer(spec: Spec, layer: PlannedLayer) -> nn.Module | None:
    row = layer.row
    in_ch, out_ch = layer.in_shape[0], layer.out_shape[0]
    bn, eps = spec.batch_norm, spec.bn_eps
    if isinstance(row, ConvRow):
        if layer.attr == "conv1" and spec.stem == "separable":
            return SeparableStem(in_ch, out_ch, layer.kernel, layer.stride, bn=bn, bn_eps=eps)
        if "3x3_reduce" in layer.widths:
            mid = layer.widths["3x3_reduce"]
            return nn.Sequential(
                OrderedDict(
                    reduce=ConvBlock(in_ch, mid, 1, bn=bn, bn_eps=eps),
                    conv=ConvBlock(mid, out_ch, layer.kernel, layer.stride, bn=bn, bn_eps=eps),
                )
            )
        return ConvBlock(in_ch, out_ch, layer.kernel, layer.stride, bn=bn, bn_eps=eps)
    if isinstance(row, MaxPoolRow):
        return nn.MaxPool2d(layer.kernel, layer.stride, padding=layer.padding, ceil_mode=spec.ceil_mode)
    if isinstance(row, InceptionRow):
        w = layer.widths
        common = {"kernel5x5": spec.branch5x5_kernel, "bn": bn, "bn_eps": eps, "ceil_mode": spec.ceil_mode}
        if spec.module == "naive":
            return InceptionNaive(in_ch, w["1x1"], w["3x3"], w["5x5"], pool=bool(w["pool_proj"]), **common)
        return InceptionReduced(
            in_ch, w["1x1"], w["3x3_reduce"], w["3x3"], w["5x5_reduce"], w["5x5"], w["pool_proj"], **common
        )
    if isinstance(row, AvgPoolRow):
        return nn.AdaptiveAvgPool2d(1)
    if isinstance(row, DropoutRow):
        return nn.Dropout(row.rate)
    if isinstance(row, LinearRow):
        return nn.Linear(in_ch, out_ch)
    return None  # softmax: part of the loss / of evaluation


def _build_aux(spec: Spec, layer: PlannedLayer) -> AuxClassifier:
    a = spec.aux
    hw = layer.out_shape[1]
    if a.pool == "adaptive":
        pool: nn.Module = nn.AdaptiveAvgPool2d(4)
    else:
        k, s = parse_patch(a.pool)
        pool = nn.AvgPool2d(k, s)
    return AuxClassifier(
        layer.out_shape[0],
        spec.num_classes,
        pool,
        aux_pool_out(spec, hw),
        conv=spec.scaled(a.conv),
        fc=spec.scaled(a.fc),
        dropout=a.dropout,
        bn=spec.batch_norm,
        bn_eps=spec.bn_eps,
    )


def _init_weights(model: nn.Module, scheme: str) -> None:
    for m in model.modules():
        if isinstance(m, nn.Conv2d | nn.Linear):
            if scheme == "trunc_normal":
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                # BVLC's reproduction starts conv biases at 0.2 so that no ReLU starts dead
                nn.init.constant_(m.bias, 0.2 if scheme == "xavier" and isinstance(m, nn.Conv2d) else 0.0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def build_model(spec: Spec) -> GoogLeNet:
    """The network a spec describes, freshly initialised."""
    return GoogLeNet(spec)
