"""GoogLeNet assembled from a :class:`~inception_bench.spec.Spec`, in three parts that mirror Table 1.

- ``stem``: the rows before the first Inception module (``conv1``, ``maxpool1``, ``conv2`` = 1x1 ``reduce`` +
  3x3 ``conv``, ``maxpool2``), an ``nn.Sequential``.
- ``stages``: one :class:`Stage` per resolution, keyed by Table 1's stage number (``"3"``, ``"4"``, ``"5"``): its
  Inception modules (``inception4a`` ... ``inception4e``), the auxiliary heads that read them (``aux1`` right
  after ``inception4a``), and the rows that end the stage (``maxpool4``).
- ``head``: ``avgpool``, ``dropout``, ``flatten``, ``fc``. The softmax row has no module: the network returns
  logits, and the loss or the evaluation applies the softmax.

So ``model.stages["4"].inception4a`` is inception (4a), and state-dict keys read ``stages.4.inception4a...``.
Aux heads are numbered ``aux1``, ``aux2``, ... in the order of ``spec.aux.attach``.

Outputs: in eval mode (or with the aux heads off) ``forward`` returns the main logits, a tensor
``(N, num_classes)``. In training mode with aux heads it returns :class:`GoogLeNetOutputs` ``(logits, aux)`` with
``aux`` a tuple of aux logits in attach order; the heads are not run at inference.

Weight init (``spec.init``): ``xavier`` - Xavier-uniform conv/linear weights, conv biases 0.2 and linear biases 0
(the paper's DistBelief init is unpublished; this is the BVLC reproduction's); ``kaiming`` - He normal (fan out)
with zero biases; ``trunc_normal`` - torchvision's truncated normal (std 0.01, cut at +-2). Batch norm starts at
weight 1 and bias ``spec.bn_bias`` (0, as torchvision; 1 starts the 22 layers near their linear regime:
docs/training.md, section 7), except those whose outputs the classifiers read, at ``spec.bn_bias_heads`` when set.
Layers are initialised in the order of the table, then the aux heads.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import NamedTuple

import torch
from torch import nn

from inception_bench.models.blocks import (
    AuxClassifier,
    ConvBlock,
    FusedInceptionReduced,
    GridReduction,
    InceptionNaive,
    InceptionReduced,
    SeparableStem,
    SpaceToDepthConvBlock,
    swapped,
)
from inception_bench.models.branches import BranchModule
from inception_bench.spec import (
    AvgPoolRow,
    ConvRow,
    DropoutRow,
    InceptionRow,
    LinearRow,
    MaxPoolRow,
    ModuleRow,
    PlannedLayer,
    SoftmaxRow,
    Spec,
    aux_pool_out,
)
from inception_bench.spec.plan import plan as plan_layers
from inception_bench.spec.schema import MODULE_ROWS

_HEAD_ROWS = (AvgPoolRow, DropoutRow, LinearRow, SoftmaxRow)


class GoogLeNetOutputs(NamedTuple):
    """Training-mode output with aux heads: main ``logits`` and ``aux`` logits in attach order."""

    logits: torch.Tensor
    aux: tuple[torch.Tensor, ...]


class Stage(nn.Module):
    """Inception modules at one resolution, the aux heads attached to them (each right after the module it
    reads), and the rows that end the stage (the max pool that halves the resolution)."""

    def forward(self, x: torch.Tensor, aux_logits: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """``x`` through the stage; with ``aux_logits``, each aux head's logits by its name (``aux1``)."""
        for name, layer in self.named_children():
            if isinstance(layer, AuxClassifier):  # a side branch: it reads x and leaves it alone
                if aux_logits is not None:
                    aux_logits[name] = layer(x)
            else:
                x = layer(x)
        return x


class GoogLeNet(nn.Module):
    """The network a spec describes (see the module docstring for its parts, outputs and init)."""

    def __init__(self, spec: Spec) -> None:
        super().__init__()
        self.spec = spec
        self.transform_input = spec.transform_input
        self.plan: list[PlannedLayer] = plan_layers(spec)
        self.paths: dict[str, str] = {}  # a layer's name (PlannedLayer.attr, aux1, ...) -> its path in the network
        stem, stages, head = split_plan(self.plan)
        heads = {point: f"aux{i}" for i, point in enumerate(spec.aux.attach, 1)} if spec.aux.enabled else {}
        self.aux_names = tuple(heads.values())  # in attach order, the order of the aux logits

        self.stem = nn.Sequential(OrderedDict((p.attr, self._layer(p, "stem")) for p in stem))
        self.stages = nn.ModuleDict()
        for key, layers in stages:
            stage = self.stages[key] = Stage()
            for p in layers:
                stage.add_module(p.attr, self._layer(p, f"stages.{key}"))
                if isinstance(p.row, MODULE_ROWS) and p.row.id in heads and not p.is_copy:
                    name = heads[p.row.id]
                    stage.add_module(name, _build_aux(spec, p))
                    self.paths[name] = f"stages.{key}.{name}"
        self.head = nn.Sequential()
        for p in head:
            if isinstance(p.row, LinearRow):
                self.head.add_module("flatten", nn.Flatten(1))
            if not isinstance(p.row, SoftmaxRow):
                self.head.add_module(p.attr, self._layer(p, "head"))
        _init_weights(self, spec.init, spec.bn_bias, spec.bn_bias_heads)

    def _layer(self, layer: PlannedLayer, part: str) -> nn.Module:
        self.paths[layer.attr] = f"{part}.{layer.attr}"
        return _build_layer(self.spec, layer)

    def forward(self, x: torch.Tensor) -> torch.Tensor | GoogLeNetOutputs:
        if self.transform_input:
            x = imagenet_to_tf_slim(x)
        aux: dict[str, torch.Tensor] | None = {} if self.training and self.aux_names else None
        x = self.stem(x)
        for stage in self.stages.values():
            x = stage(x, aux)
        logits = self.head(x)
        return GoogLeNetOutputs(logits, tuple(aux[name] for name in self.aux_names)) if aux is not None else logits

    def layer(self, name: str) -> nn.Module:
        """A layer by its flat name: ``conv1``, ``inception4a``, ``inception4c_2``, ``fc``, ``aux1``."""
        return self.get_submodule(self.paths[name])

    def nest_keys(self, state: dict[str, torch.Tensor], prefix: str = "") -> dict[str, torch.Tensor]:
        """A state dict keyed by flat layer names (``conv1.conv.weight``, ``inception3a...``, ``aux1...``, after
        ``prefix``) re-keyed with this network's paths (``stem.conv1.conv.weight``): the layout of checkpoints
        before format 2, and of torchvision's googlenet once its names are ours. Other keys pass unchanged."""
        out = {}
        for key, value in state.items():
            name, dot, rest = key.removeprefix(prefix).partition(".")
            known = key.startswith(prefix) and dot and name in self.paths
            out[f"{prefix}{self.paths[name]}.{rest}" if known else key] = value
        return out

    @property
    def aux_heads(self) -> dict[str, AuxClassifier]:
        """The aux heads by attach point (``{"4a": aux1, "4d": aux2}``); empty with the heads off."""
        heads = {point: self.layer(name) for point, name in zip(self.spec.aux.attach, self.aux_names, strict=False)}
        return {point: head for point, head in heads.items() if isinstance(head, AuxClassifier)}

    # ------------------------------------------------------------------ execution options (same weights, function)
    def _swap(self, path: str, cls: type[nn.Module]) -> None:
        parent, _, attr = path.rpartition(".")
        setattr(self.get_submodule(parent), attr, swapped(self.get_submodule(path), cls))

    def fuse_1x1(self, enabled: bool = True) -> GoogLeNet:
        """Swap each reduced Inception module for its :class:`FusedInceptionReduced` (``enabled``) or back: its 1x1
        convolutions on the module input run as one convolution, with the same weights, state dict and counts.
        Naive modules have no 1x1 convolutions to fuse. Returns the model."""
        cls = FusedInceptionReduced if enabled else InceptionReduced
        for path, module in list(self.named_modules()):
            if isinstance(module, InceptionReduced) and type(module) is not cls:
                self._swap(path, cls)
        return self

    def space_to_depth_stem(self, enabled: bool = True) -> GoogLeNet:
        """Swap conv1 for its :class:`SpaceToDepthConvBlock` (``enabled``) or back: conv1 on 2x2 space-to-depth
        blocks of the image, with the same weights, state dict, counts and function. Needs a plain stride-2 conv1 (not
        the separable stem); raises ValueError otherwise. Returns the model."""
        if "conv1" not in self.paths:
            raise ValueError("the space-to-depth stem needs a conv1 row; this spec has none")
        conv1 = self.layer("conv1")
        if not isinstance(conv1, ConvBlock):
            raise ValueError("the space-to-depth stem needs a plain conv1, not the separable stem")
        if conv1.conv.stride != (2, 2):
            k, stride = conv1.conv.kernel_size[0], conv1.conv.stride[0]
            raise ValueError(f"the space-to-depth stem needs a stride-2 conv1; this spec's is {k}x{k}/{stride}")
        self._swap(self.paths["conv1"], SpaceToDepthConvBlock if enabled else ConvBlock)
        return self

    @property
    def s2d_stem(self) -> bool:
        """Whether conv1 runs on space-to-depth blocks."""
        return any(isinstance(m, SpaceToDepthConvBlock) for m in self.stem.modules())

    @property
    def fused_1x1(self) -> bool:
        """Whether the Inception modules run their 1x1 convolutions fused (never for naive modules)."""
        return any(isinstance(m, FusedInceptionReduced) for m in self.modules())


def imagenet_to_tf_slim(x: torch.Tensor) -> torch.Tensor:
    """torchvision's ``transform_input``: an ImageNet-normalised image ((x - mean) / std) re-normalised to the
    (x - 0.5) / 0.5 that its ported TF-slim weights expect."""
    mean = torch.tensor([0.485, 0.456, 0.406], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225], device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * std + mean - 0.5) / 0.5


def split_plan(
    plan: list[PlannedLayer],
) -> tuple[list[PlannedLayer], list[tuple[str, list[PlannedLayer]]], list[PlannedLayer]]:
    """The plan as (stem, stages, head). The head is the trailing avg pool / dropout / linear / softmax rows; the
    stem is what comes before the first Inception module; each stage starts at an Inception module that follows
    other rows, and is keyed by its first module's stage number (the digits of ``3a``) or, where that is taken or
    missing, by the module's row id."""
    end = len(plan)
    while end and isinstance(plan[end - 1].row, _HEAD_ROWS):
        end -= 1
    body, head = plan[:end], plan[end:]
    first = next((i for i, p in enumerate(body) if isinstance(p.row, MODULE_ROWS)), len(body))
    stages: list[tuple[str, list[PlannedLayer]]] = []
    for i, p in enumerate(body[first:], first):
        if i == first or (isinstance(p.row, MODULE_ROWS) and not isinstance(body[i - 1].row, MODULE_ROWS)):
            digits = p.row.id[: len(p.row.id) - len(p.row.id.lstrip("0123456789"))]
            key = digits if digits and digits not in dict(stages) else p.row.id
            while key in dict(stages):
                key += "_"
            stages.append((key, []))
        stages[-1][1].append(p)
    return body[:first], stages, head


def _build_layer(spec: Spec, layer: PlannedLayer) -> nn.Module:
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
                    conv=ConvBlock(mid, out_ch, layer.kernel, layer.stride, bn, eps, layer.padding),
                )
            )
        return ConvBlock(in_ch, out_ch, layer.kernel, layer.stride, bn, eps, layer.padding)
    if isinstance(row, MaxPoolRow):
        max_pool = nn.MaxPool2d(layer.kernel, layer.stride, padding=layer.padding, ceil_mode=spec.ceil_mode)
        if layer.widths:  # grid_reduction=branches (spec.plan)
            r, n = layer.widths["3x3_reduce"], layer.widths["3x3"]
            return GridReduction(in_ch, r, n, max_pool, layer.stride, bn=bn, bn_eps=eps)
        return max_pool
    if isinstance(row, InceptionRow):
        w, k, ceil = layer.widths, spec.branch5x5_kernel, spec.ceil_mode
        stacked, nxn = spec.branch5x5 == "stacked_3x3", spec.factorize_nxn
        if spec.module == "naive":
            pool = bool(w["pool_proj"])
            return InceptionNaive(
                in_ch, w["1x1"], w["3x3"], w["5x5"], pool, k, bn, eps, ceil, stacked, nxn, row.stride, row.pool
            )
        widths = (w["1x1"], w["3x3_reduce"], w["3x3"], w["5x5_reduce"], w["5x5"], w["pool_proj"])
        passes = row.pool_proj == "pass"
        return InceptionReduced(in_ch, *widths, k, bn, eps, ceil, stacked, nxn, row.stride, row.pool, passes)
    if isinstance(row, ModuleRow):
        return BranchModule(in_ch, layer.branches, bn, eps, spec.ceil_mode)
    if isinstance(row, AvgPoolRow):
        return nn.AdaptiveAvgPool2d(1)
    if isinstance(row, DropoutRow):
        return nn.Dropout(row.rate)
    if isinstance(row, LinearRow):
        return nn.Linear(in_ch, out_ch)
    raise ValueError(f"row {row.id} ({row.type}) builds no module")


def _build_aux(spec: Spec, layer: PlannedLayer) -> AuxClassifier:
    a = spec.aux
    pool = nn.AdaptiveAvgPool2d(4) if a.pool == "adaptive" else nn.AvgPool2d(a.pool.kernel, a.pool.stride)
    return AuxClassifier(
        layer.out_shape[0],
        spec.num_classes,
        pool,
        aux_pool_out(spec, layer.out_shape[1]),
        conv=spec.scaled(a.conv),
        conv2=spec.scaled(a.conv2),
        fc=spec.scaled(a.fc),
        dropout=a.dropout,
        bn=spec.batch_norm if a.batch_norm is None else a.batch_norm,
        bn_eps=spec.bn_eps,
        bn_fc=bool(a.batch_norm),
    )


def _init_weights(model: GoogLeNet, scheme: str, bn_bias: float = 0.0, bn_bias_heads: float | None = None) -> None:
    heads = [m for head in model.aux_heads.values() for m in head.modules()]  # in attach order
    in_heads = {id(m) for m in heads}
    for m in [m for m in model.modules() if id(m) not in in_heads] + heads:  # the table's layers, then the heads
        if isinstance(m, nn.Conv2d | nn.Linear):
            if scheme == "trunc_normal":
                nn.init.trunc_normal_(m.weight, mean=0.0, std=0.01, a=-2, b=2)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif scheme == "kaiming_in":
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            else:
                nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                # BVLC's reproduction starts conv biases at 0.2 so that no ReLU starts dead
                nn.init.constant_(m.bias, 0.2 if scheme == "xavier" and isinstance(m, nn.Conv2d) else 0.0)
        elif isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d):
            nn.init.ones_(m.weight)
            nn.init.constant_(m.bias, bn_bias)
    if bn_bias_heads is not None:
        for bn in _head_inputs(model):
            nn.init.constant_(bn.bias, bn_bias_heads)


def _head_inputs(model: GoogLeNet) -> list[nn.BatchNorm2d | nn.BatchNorm1d]:
    """The batch norms whose ReLU outputs the classifiers read: the last one of each branch of the last Inception
    module (the main head's features; each of a split's) and the last one of each aux head (its fc's with
    aux.batch_norm, else its last conv's)."""
    modules = [m for m in model.modules() if isinstance(m, InceptionReduced | InceptionNaive | BranchModule)]
    last = modules[-1] if modules else None
    found: list[nn.BatchNorm2d | nn.BatchNorm1d] = []
    if isinstance(last, BranchModule):
        for block in last.output_blocks():
            found += [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)][-1:]
    elif isinstance(last, InceptionReduced | InceptionNaive):
        for branch in (last.branch1x1, last.branch3x3, last.branch5x5, last.branch_pool):
            norms = [m for m in branch.modules() if isinstance(m, nn.BatchNorm2d)] if branch is not None else []
            found += norms[-1:]
    for head in model.aux_heads.values():
        found += [m for m in head.modules() if isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d)][-1:]
    return found


def build_model(spec: Spec, *, fuse_1x1: bool = False, s2d_stem: bool = False) -> GoogLeNet:
    """The network a spec describes, freshly initialised, with its execution options (which keep the weights and
    the function): ``fuse_1x1`` (:meth:`GoogLeNet.fuse_1x1`) and ``s2d_stem`` (:meth:`GoogLeNet.space_to_depth_stem`,
    ValueError for a stem it cannot run)."""
    model = GoogLeNet(spec).fuse_1x1(fuse_1x1)
    return model.space_to_depth_stem() if s2d_stem else model
