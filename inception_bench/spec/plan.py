"""The plan: every module of the network a spec describes, with its widths and sizes, computed in plain Python.

The model builder and the counts use it. Sizes are PyTorch's (channels, height, width). Pooling output sizes
follow PyTorch's rule (with ``ceil_mode``, a window must start inside the input or its left padding).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from inception_bench.errors import SpecError
from inception_bench.spec.branches import Branch
from inception_bench.spec.schema import (
    MODULE_ROWS,
    AnyRow,
    AvgPoolRow,
    ConvRow,
    InceptionRow,
    LinearRow,
    MaxPoolRow,
    ModuleRow,
    Spec,
    row_name,
)

MAX_WEIGHTS = 2_000_000_000  # a network larger than this is refused before it is built


@dataclass
class PlannedLayer:
    """One module as it will be built. ``attr`` is its name in the network (``conv1``, ``inception3a``, and
    ``inception4c_2`` for a repeated module); sizes are (channels, height, width) in and out."""

    row: AnyRow
    attr: str
    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    widths: dict[str, int] = field(default_factory=dict)  # effective branch widths of an inception module
    branches: tuple[Branch, ...] = ()  # a module row's branches, their widths scaled

    @property
    def is_copy(self) -> bool:
        """A repeated module after its row's first (``repeat`` >= 2): it has no Table 1 claims of its own."""
        return self.attr != module_attr(self.row)


def module_attr(row: AnyRow, copy_index: int = 0) -> str:
    """The name of the row's module in the network (``inception3a``, ``conv1``, ``inception4b_2``)."""
    base = f"inception{row.id}" if isinstance(row, MODULE_ROWS) else row.id
    return base if copy_index == 0 else f"{base}_{copy_index + 1}"


def pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output size of a pooling layer, with PyTorch's rule for ceil_mode (a window must start inside)."""
    span = size + 2 * padding - kernel
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def aux_pool_out(spec: Spec, hw: int) -> int:
    """Spatial size after an aux head's average pool (4 for 'adaptive')."""
    pool = spec.aux.pool
    return 4 if pool == "adaptive" else (hw - pool.kernel) // pool.stride + 1


def _inception_widths(spec: Spec, row: InceptionRow, in_ch: int) -> dict[str, int]:
    s = spec.scaled
    branches = {"1x1": s(row.n1x1), "3x3": s(row.n3x3), "5x5": s(row.n5x5)}
    if spec.module == "reduced":
        widths = {
            **branches,
            "3x3_reduce": s(row.n3x3_reduce, reduce=True) if branches["3x3"] else 0,
            "5x5_reduce": s(row.n5x5_reduce, reduce=True) if branches["5x5"] else 0,
            "pool_proj": in_ch if row.pool_proj == "pass" else s(row.pool_proj, reduce=True),
        }
        for branch, width, reduce in (("3x3", row.n3x3, row.n3x3_reduce), ("5x5", row.n5x5, row.n5x5_reduce)):
            if width and not reduce:
                raise SpecError(
                    f"layers.{row.id}.{branch}_reduce: is 0 while {branch} is {width}; "
                    f"set {branch}=0 to remove the branch, or module=naive for no reductions"
                )
    else:  # naive: no reductions; the pool branch passes its input through (removed when pool_proj is 0)
        widths = {**branches, "3x3_reduce": 0, "5x5_reduce": 0, "pool_proj": in_ch if row.pool_proj else 0}
    if not (widths["1x1"] or widths["3x3"] or widths["5x5"] or widths["pool_proj"]):
        raise SpecError(f"layers.{row.id}: every branch has width 0; keep at least one")
    return widths


def _row_layers(
    spec: Spec, row: AnyRow, shape: tuple[int, int, int], name: str, between_stages: bool = False
) -> list[PlannedLayer]:
    """The modules one row builds from an input of ``shape`` (none for a removed inception row);
    ``between_stages``: the row comes after an Inception module (a grid reduction, not the stem's)."""
    c, h, w = shape
    if isinstance(row, ConvRow):
        k, st = row.patch.kernel, row.patch.stride
        widths = {"3x3_reduce": spec.scaled(row.reduce)} if row.reduce else {}
        pad = k // 2 if row.padding is None else row.padding
        if 2 * pad > k:
            raise SpecError(f"layers.{row.id}.padding: {pad} is more than half the kernel {k}")
        if row.id == "conv1" and spec.stem == "separable" and pad != k // 2:
            raise SpecError(f"layers.{row.id}.padding: the separable stem pads by {k // 2}; leave padding out")
        hw = (h + 2 * pad - k) // st + 1
        return [PlannedLayer(row, row.id, name, shape, (spec.scaled(row.channels), hw, hw), k, st, pad, widths)]
    if isinstance(row, MaxPoolRow):
        k, st = row.patch.kernel, row.patch.stride
        pad = (k - 1) // 2 if row.padding is None else row.padding
        if 2 * pad > k:
            raise SpecError(f"layers.{row.id}.padding: {pad} is more than half the kernel {k}")
        hw = pool_out(h, k, st, pad, spec.ceil_mode)
        if spec.grid_reduction == "branches" and between_stages and st > 1:
            conv_hw = (h + 2 - 3) // st + 1  # the conv branch: 3x3, padding 1, the pool's stride
            if conv_hw != hw:
                raise SpecError(
                    f"layers.{row.id}: grid_reduction=branches: the 3x3/{st} conv branch gives {conv_hw}x{conv_hw} "
                    f"beside the pool's {hw}x{hw} (ceil_mode or padding); use grid_reduction=max_pool for this spec"
                )
            widths = {"3x3_reduce": max(1, c // 4), "3x3": max(1, c // 2)}  # Figure 10: the filters grow 1.5x
            return [PlannedLayer(row, row.id, name, shape, (c + widths["3x3"], hw, hw), k, st, pad, widths)]
        return [PlannedLayer(row, row.id, name, shape, (c, hw, hw), k, st, pad)]
    if isinstance(row, InceptionRow):
        layers = []
        for i in range(row.repeat):
            widths = _inception_widths(spec, row, shape[0])
            out_c = widths["1x1"] + widths["3x3"] + widths["5x5"] + widths["pool_proj"]
            label = name if i == 0 else f"{name} x{i + 1}"
            hw = shape[1]
            if row.stride > 1:  # the 3x3/2 convs (padding 1) beside the 3x3/2 pool (padding 1)
                hw = (shape[1] + 2 - 3) // row.stride + 1
                if pool_out(shape[1], 3, row.stride, 1, spec.ceil_mode) != hw:
                    raise SpecError(f"layers.{row.id}: with ceil_mode its pool and its convs give different sizes")
            layers.append(PlannedLayer(row, module_attr(row, i), label, shape, (out_c, hw, hw), widths=widths))
            shape = layers[-1].out_shape
        return layers
    if isinstance(row, ModuleRow):
        branches = tuple(b.scaled(lambda width, reduce: spec.scaled(width, reduce)) for b in row.branches)
        sizes = [b.out_hw(h, w, spec.ceil_mode) for b in branches]
        if len(set(sizes)) > 1:
            given = ", ".join(f"{b} -> {hb}x{wb}" for b, (hb, wb) in zip(row.branches, sizes, strict=True))
            raise SpecError(f"layers.{row.id}.branches: the branches give different sizes from {h}x{w}: {given}")
        out_c = sum(b.out_channels(c) for b in branches)
        return [PlannedLayer(row, module_attr(row), name, shape, (out_c, *sizes[0]), branches=branches)]
    if isinstance(row, AvgPoolRow):
        return [PlannedLayer(row, row.id, name, shape, (c, 1, 1), kernel=h)]
    if isinstance(row, LinearRow):
        if (h, w) != (1, 1):
            raise SpecError(f"layers.{row.id}: the linear layer needs a 1x1 input, got {h}x{w}; add an avg pool row")
        return [PlannedLayer(row, row.id, name, shape, (spec.num_classes, 1, 1))]
    return [PlannedLayer(row, row.id, name, shape, shape)]  # dropout; softmax (no module: logits are returned)


def plan(spec: Spec) -> list[PlannedLayer]:
    """Every module of ``spec``'s network in order (see :class:`PlannedLayer`); raises :class:`SpecError` for a
    table whose sizes do not work out."""
    shape = (spec.in_channels, spec.input_size, spec.input_size)
    layers: list[PlannedLayer] = []
    between_stages = False
    for row in spec.layers:
        built = _row_layers(spec, row, shape, row_name(row, spec.layers), between_stages)
        between_stages = between_stages or isinstance(row, MODULE_ROWS)
        layers += built
        if built:
            shape = built[-1].out_shape
        if min(shape[1:]) < 1:
            raise SpecError(
                f"layers.{row.id}: the spatial size shrinks to {shape[1]}x{shape[2]} "
                f"(input_size {spec.input_size} is too small for this table; see specs/googlenet-small.yaml)"
            )
    _check_aux(spec, layers)
    weights = sum(_rough_weights(spec, layer) for layer in layers)
    if weights > MAX_WEIGHTS:
        raise SpecError(f"the network would have about {weights:,} weights (limit {MAX_WEIGHTS:,}); reduce the widths")
    return layers


def _rough_weights(spec: Spec, layer: PlannedLayer) -> int:
    """A rough estimate of a layer's weights, to refuse absurd specs before allocating them."""
    c = layer.in_shape[0]
    if isinstance(layer.row, ConvRow):
        return c * layer.out_shape[0] * layer.kernel**2 + c * layer.widths.get("3x3_reduce", 0)
    if isinstance(layer.row, InceptionRow):
        w, k = layer.widths, spec.branch5x5_kernel
        return c * (w["1x1"] + w["3x3"] * 9 + w["5x5"] * k * k + w["pool_proj"]) + 9 * w["3x3_reduce"] * w["3x3"]
    if isinstance(layer.row, ModuleRow):
        return sum(b.weights(c) for b in layer.branches)
    if isinstance(layer.row, LinearRow):
        return c * layer.out_shape[0]
    return 0


def attach_layer(layers: list[PlannedLayer], point: str) -> PlannedLayer | None:
    """The module an aux head attached at inception or module row ``point`` reads (its first copy), if built."""
    return next((p for p in layers if isinstance(p.row, MODULE_ROWS) and p.row.id == point and not p.is_copy), None)


def _check_aux(spec: Spec, layers: list[PlannedLayer]) -> None:
    if not spec.aux.enabled:
        return
    for point in spec.aux.attach:
        layer = attach_layer(layers, point)
        if layer is None:
            raise SpecError(f"aux.attach: {point} is removed (repeat 0); attach the head elsewhere")
        hw = layer.out_shape[1]
        pool = spec.aux.pool
        if pool != "adaptive" and aux_pool_out(spec, hw) < 1:
            raise SpecError(
                f"aux.pool: {pool} needs at least a {pool.kernel}x{pool.kernel} input but inception ({point}) "
                f"outputs {hw}x{hw}; use aux.pool=adaptive or attach earlier"
            )
        if spec.aux.conv2 and aux_pool_out(spec, hw) < 5:
            raise SpecError(
                f"aux.conv2: its 5x5 'valid' convolution needs a 5x5 map, but the head's pool gives "
                f"{aux_pool_out(spec, hw)}x{aux_pool_out(spec, hw)} at {point}; set aux.conv2=0 or attach earlier"
            )


def check_claims(spec: Spec) -> None:
    """Check each row's Table 1 claims (output size, avg pool patch) against what the layers compute."""
    previous = "the input"
    for layer in plan(spec):
        row = layer.row
        if row.output is not None and not layer.is_copy and row.output.chw != layer.out_shape:
            c, h, w = layer.out_shape
            ci, hi, wi = layer.in_shape
            raise SpecError(
                f"layers.{row.id}.output: claims {row.output} but the layers compute {h}x{w}x{c} "
                f"from {hi}x{wi}x{ci} ({previous}); fix the widths or the claim"
            )
        if isinstance(row, AvgPoolRow) and row.patch is not None and row.patch.kernel != layer.in_shape[1]:
            raise SpecError(
                f"layers.{row.id}.patch: {row.patch} does not cover the {layer.in_shape[1]}x"
                f"{layer.in_shape[2]} input (the avg pool is global)"
            )
        previous = layer.name
