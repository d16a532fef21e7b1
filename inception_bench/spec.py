"""The architecture spec: Table 1 of the GoogLeNet paper as YAML, validated, with variants as overrides.

Conventions
-----------
- A spec file holds the table (``layers``: one entry per Table 1 row, in order, with the table's columns)
  and the global design choices (module kind, stem, batch norm, ...). The ``params`` and ``ops`` columns are
  the paper's printed figures (``2.7K`` = 2.7 x 1024 weights, ``34M`` = 34 x 10^6 multiply-adds); they are
  reference data, never used to build anything.
- Widths that build the network: an inception row's ``1x1``, ``3x3_reduce``, ``3x3``, ``5x5_reduce``, ``5x5``
  and ``pool_proj``; a convolution row's output depth (the last number of ``output``), with ``3x3_reduce``
  for the 1x1 reduction in front of a depth-2 convolution; the linear row's width is ``num_classes``.
- ``output`` (``HxWxC``) and the ``patch`` of the avg pool are the table's claims. A spec file that stands on
  its own is checked against them: every row's spatial size and width must be what the layers compute from
  the previous row (this is also the channel-consistency check). A spec derived from another one
  (``base:`` plus ``overrides:``) or changed from the CLI (``--set``) is a variant: its shapes are computed,
  and the claims stay as the paper's reference column.
- Overrides use dotted keys: a top-level field (``module``, ``width_mult``), ``aux.<field>``, or
  ``layers.<id>.<column>`` (``layers.4e.5x5``; ``layers.*.5x5`` sets the column of every inception row).
  Values are YAML scalars or lists (``true``, ``0.5``, ``[4d]``).

Nothing here imports torch: ``plan()`` computes every layer's widths and spatial sizes in plain Python, and
the model builder and the counts use that plan.
"""

from __future__ import annotations

import copy
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from inception_bench.errors import SpecError

SPEC_DIR = Path(__file__).resolve().parent.parent / "specs"
DEFAULT_SPEC = SPEC_DIR / "googlenet.yaml"

MAX_WIDTH = 16384  # channels; a sanity bound so a typo cannot ask for terabytes
MAX_WEIGHTS = 2_000_000_000  # a network larger than this is refused before it is built
_PATCH = re.compile(r"^(\d+)x(\d+)/(\d+)$")
_SHAPE = re.compile(r"^(\d+)x(\d+)x(\d+)$")
_FIGURE = re.compile(r"^(\d+(?:\.\d+)?)([KM])$")


def display_path(path: str | Path) -> str:
    """A path as shown in outputs: relative to the project (or the working directory) when inside it."""
    p = Path(path).resolve()
    for root in (SPEC_DIR.parent, Path.cwd()):
        if p.is_relative_to(root):
            return str(p.relative_to(root))
    return str(path)


def parse_patch(text: str) -> tuple[int, int]:
    """``"7x7/2"`` -> (kernel 7, stride 2). Only square patches occur in the table."""
    m = _PATCH.match(text.strip())
    if not m or m.group(1) != m.group(2) or int(m.group(1)) < 1 or int(m.group(3)) < 1:
        raise ValueError(f"patch must look like '3x3/2' (square kernel / stride >= 1), got {text!r}")
    return int(m.group(1)), int(m.group(3))


def _valid_patch(text: str) -> str:
    parse_patch(text)
    return text


Patch = Annotated[str, AfterValidator(_valid_patch)]  # a row's "7x7/2", checked when the spec loads


def parse_shape(text: str) -> tuple[int, int, int]:
    """``"28x28x256"`` -> (28, 28, 256)."""
    m = _SHAPE.match(text.strip())
    if not m:
        raise ValueError(f"output must look like '28x28x256' (height x width x depth), got {text!r}")
    return int(m.group(1)), int(m.group(2)), int(m.group(3))


@dataclass(frozen=True)
class PaperFigure:
    """A printed Table 1 figure: ``value`` in ``unit`` (K = 1024 weights, M = 10^6 multiply-adds)."""

    text: str
    value: float
    unit: str
    decimals: int

    @property
    def scale(self) -> int:
        return 1024 if self.unit == "K" else 10**6

    @property
    def exact(self) -> int:
        """The figure as a plain integer (2.7K -> 2765)."""
        return round(self.value * self.scale)

    @property
    def resolution(self) -> float:
        """One unit of the last printed digit, as a plain number (159K -> 1024; 2.7K -> 102.4)."""
        return self.scale / 10**self.decimals


def parse_figure(text: str | int | float) -> PaperFigure:
    m = _FIGURE.match(str(text).strip())
    if not m:
        raise ValueError(f"paper figure must look like '2.7K' or '34M', got {text!r}")
    number = m.group(1)
    decimals = len(number.split(".")[1]) if "." in number else 0
    return PaperFigure(str(text), float(number), m.group(2), decimals)


# --------------------------------------------------------------------------------------------- the schema
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Row(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="unique row key, used in overrides")
    output: str | None = Field(None, description="Table 1 output size HxWxC (a claim)")
    depth: int | None = Field(None, ge=0, description="Table 1 depth column (layers with parameters)")
    params: str | None = Field(None, description="paper's printed params figure, e.g. 159K")
    ops: str | None = Field(None, description="paper's printed ops figure, e.g. 128M")
    note: str | None = Field(None, description="why the paper's figures differ from the row's arithmetic")

    @field_validator("output")
    @classmethod
    def _check_output(cls, v: str | None) -> str | None:
        if v is not None:
            parse_shape(v)
        return v

    @field_validator("params", "ops", mode="before")
    @classmethod
    def _check_figure(cls, v: Any) -> Any:
        if v is not None:
            parse_figure(v)
            return str(v)
        return v


class ConvRow(_Row):
    type: Literal["convolution"]
    patch: Patch
    reduce: int | None = Field(
        None, alias="3x3_reduce", ge=1, le=MAX_WIDTH, description="1x1 reduction before the conv"
    )
    width: int | None = Field(
        None, alias="3x3", ge=1, le=MAX_WIDTH, description="the conv's width (defaults to output depth)"
    )

    @model_validator(mode="after")
    def _width_known(self) -> ConvRow:
        if self.width is None and self.output is None:
            raise ValueError("a convolution row needs 'output' (HxWxC) or '3x3' to know its width")
        if self.width is not None and self.output is not None and parse_shape(self.output)[2] != self.width:
            raise ValueError(f"'3x3' ({self.width}) must equal the depth of 'output' ({self.output})")
        return self

    @property
    def channels(self) -> int:
        return self.width if self.width is not None else parse_shape(self.output or "")[2]


class MaxPoolRow(_Row):
    type: Literal["max pool"]
    patch: Patch
    padding: int | None = Field(None, ge=0, description="default (kernel-1)//2")


class InceptionRow(_Row):
    type: Literal["inception"]
    n1x1: int = Field(alias="1x1", ge=0, le=MAX_WIDTH)
    n3x3_reduce: int = Field(alias="3x3_reduce", ge=0, le=MAX_WIDTH)
    n3x3: int = Field(alias="3x3", ge=0, le=MAX_WIDTH)
    n5x5_reduce: int = Field(alias="5x5_reduce", ge=0, le=MAX_WIDTH)
    n5x5: int = Field(alias="5x5", ge=0, le=MAX_WIDTH)
    pool_proj: int = Field(ge=0, le=MAX_WIDTH)
    repeat: int = Field(1, ge=0, le=8, description="0 removes the module, 2+ repeats it (depth ablations)")


class AvgPoolRow(_Row):
    type: Literal["avg pool"]
    patch: Patch | None = None


class DropoutRow(_Row):
    type: Literal["dropout"]
    rate: float = Field(ge=0.0, lt=1.0)


class LinearRow(_Row):
    type: Literal["linear"]


class SoftmaxRow(_Row):
    type: Literal["softmax"]


Row = Annotated[
    ConvRow | MaxPoolRow | InceptionRow | AvgPoolRow | DropoutRow | LinearRow | SoftmaxRow,
    Field(discriminator="type"),
]


class AuxSpec(_Strict):
    """The auxiliary classifiers (paper section 5): one head after each attach point, discarded at inference."""

    enabled: bool = True
    attach: list[str] = Field(default_factory=lambda: ["4a", "4d"], description="inception row ids")
    loss_weight: float = Field(0.3, ge=0.0)
    pool: str = Field("5x5/3", description="'KxK/S' average pool, or 'adaptive' (4x4, as torchvision)")
    conv: int = Field(128, ge=1, le=MAX_WIDTH, description="1x1 conv filters")
    fc: int = Field(1024, ge=1, le=65536, description="fully connected width")
    dropout: float = Field(0.7, ge=0.0, lt=1.0)

    @field_validator("pool")
    @classmethod
    def _check_pool(cls, v: str) -> str:
        if v != "adaptive":
            parse_patch(v)
        return v


class Spec(_Strict):
    """A validated architecture spec. Build one with :func:`load_spec`."""

    name: str
    description: str = ""
    input_size: int = Field(224, ge=8, le=2048)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(1000, ge=2, le=100_000)
    module: Literal["reduced", "naive"] = Field("reduced", description="Figure 2b (reduced) or 2a (naive)")
    stem: Literal["full", "separable"] = Field("full", description="conv1: full 7x7, or separable 7x7")
    batch_norm: bool = False
    bn_eps: float = Field(1e-5, gt=0)
    ceil_mode: bool = Field(False, description="max pools round their output size up")
    branch5x5_kernel: int = Field(5, ge=1, le=11, description="kernel of the '5x5' branch (odd)")
    width_mult: float = Field(1.0, gt=0, le=8, description="multiplies every width")
    reduce_mult: float = Field(1.0, gt=0, le=8, description="multiplies 3x3/5x5 reduce and pool proj widths")
    init: Literal["xavier", "kaiming", "trunc_normal"] = "xavier"
    transform_input: bool = Field(False, description="torchvision's ImageNet re-normalisation of the input")
    layers: list[Row]
    aux: AuxSpec = Field(default_factory=AuxSpec)

    @field_validator("branch5x5_kernel")
    @classmethod
    def _odd(cls, v: int) -> int:
        if v % 2 == 0:
            raise ValueError(f"must be odd so the branch keeps the spatial size, got {v}")
        return v

    @model_validator(mode="after")
    def _structure(self) -> Spec:
        ids = [r.id for r in self.layers]
        dup = [i for i, n in Counter(ids).items() if n > 1]
        if dup:
            raise ValueError(f"layers: row ids must be unique, repeated: {', '.join(dup)}")
        linear = [r for r in self.layers if isinstance(r, LinearRow)]
        if len(linear) != 1 or not isinstance(self.layers[-1], LinearRow | SoftmaxRow):
            raise ValueError("layers: the table must end with exactly one 'linear' row (optionally + 'softmax')")
        if self.transform_input and self.in_channels != 3:
            raise ValueError("transform_input re-normalises RGB ImageNet inputs; it needs in_channels=3")
        inception = {r.id for r in self.layers if isinstance(r, InceptionRow)}
        for point in self.aux.attach:
            if point not in inception:
                raise ValueError(f"aux.attach: {point!r} is not an inception row id (have {sorted(inception)})")
        return self

    # ------------------------------------------------------------------ derived quantities
    def row(self, row_id: str) -> Any:
        return next(r for r in self.layers if r.id == row_id)

    def scaled(self, channels: int, reduce: bool = False) -> int:
        """A width after the global (and, for reductions/projections, the reduce) multiplier; 0 stays 0."""
        if channels == 0:
            return 0
        m = self.width_mult * (self.reduce_mult if reduce else 1.0)
        return max(1, int(round(channels * m)))

    def plan(self) -> list[PlannedLayer]:
        """Every module of the network in order, with its widths and spatial sizes (see :class:`PlannedLayer`)."""
        return _plan(self)

    def variant(self) -> dict[str, Any]:
        """The design choices that make this variant, as a flat dict (for reports and run records)."""
        return {
            "module": self.module,
            "aux": self.aux.enabled,
            "aux_attach": list(self.aux.attach) if self.aux.enabled else [],
            "aux_loss_weight": self.aux.loss_weight,
            "stem": self.stem,
            "batch_norm": self.batch_norm,
            "branch5x5_kernel": self.branch5x5_kernel,
            "width_mult": self.width_mult,
            "reduce_mult": self.reduce_mult,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
        }


def row_name(row: Any, spec_rows: list[Any] | None = None) -> str:
    """The row's Table 1 label: ``inception (3a)``, ``convolution (conv1)``, ``linear``, ``dropout (40%)``."""
    if isinstance(row, InceptionRow):
        return f"inception ({row.id})"
    if isinstance(row, DropoutRow):
        return f"dropout ({row.rate:.0%})"
    if spec_rows is not None and sum(r.type == row.type for r in spec_rows) == 1:
        return row.type
    return f"{row.type} ({row.id})"


def module_attr(row: Any, copy_index: int = 0) -> str:
    """The attribute name of the row's module in the network (``inception3a``, ``conv1``, ``inception4b_2``)."""
    base = f"inception{row.id}" if isinstance(row, InceptionRow) else row.id
    return base if copy_index == 0 else f"{base}_{copy_index + 1}"


# --------------------------------------------------------------------------------------------- the plan
@dataclass
class PlannedLayer:
    """One module as it will be built. Sizes are (channels, height, width) in and out."""

    row: Any
    attr: str
    name: str
    in_shape: tuple[int, int, int]
    out_shape: tuple[int, int, int]
    kernel: int = 0
    stride: int = 1
    padding: int = 0
    widths: dict[str, int] = field(default_factory=dict)  # effective branch widths of an inception module


def _pool_out(size: int, kernel: int, stride: int, padding: int, ceil_mode: bool) -> int:
    """Output size of a pooling layer, with PyTorch's rule for ceil_mode (a window must start inside)."""
    span = size + 2 * padding - kernel
    out = (math.ceil(span / stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _inception_widths(spec: Spec, row: InceptionRow, in_ch: int) -> dict[str, int]:
    s = spec.scaled
    branches = {"1x1": s(row.n1x1), "3x3": s(row.n3x3), "5x5": s(row.n5x5)}
    if spec.module == "reduced":
        widths = {
            **branches,
            "3x3_reduce": s(row.n3x3_reduce, reduce=True) if branches["3x3"] else 0,
            "5x5_reduce": s(row.n5x5_reduce, reduce=True) if branches["5x5"] else 0,
            "pool_proj": s(row.pool_proj, reduce=True),
        }
        for branch in ("3x3", "5x5"):
            if branches[branch] and not getattr(row, f"n{branch}_reduce"):
                raise SpecError(
                    f"layers.{row.id}.{branch}_reduce: is 0 while {branch} is {getattr(row, f'n{branch}')}; "
                    f"set {branch}=0 to remove the branch, or module=naive for no reductions"
                )
    else:  # naive: no reductions; the pool branch passes its input through (removed when pool_proj is 0)
        widths = {**branches, "3x3_reduce": 0, "5x5_reduce": 0, "pool_proj": in_ch if row.pool_proj else 0}
    if not (widths["1x1"] or widths["3x3"] or widths["5x5"] or widths["pool_proj"]):
        raise SpecError(f"layers.{row.id}: every branch has width 0; keep at least one")
    return widths


def _plan(spec: Spec) -> list[PlannedLayer]:
    shape = (spec.in_channels, spec.input_size, spec.input_size)
    plan: list[PlannedLayer] = []
    for row in spec.layers:
        c, h, w = shape
        name = row_name(row, spec.layers)
        if isinstance(row, ConvRow):
            k, st = parse_patch(row.patch)
            out_c = spec.scaled(row.channels)
            widths = {"3x3_reduce": spec.scaled(row.reduce)} if row.reduce else {}
            hw = (h + 2 * (k // 2) - k) // st + 1
            plan.append(PlannedLayer(row, module_attr(row), name, shape, (out_c, hw, hw), k, st, k // 2, widths))
        elif isinstance(row, MaxPoolRow):
            k, st = parse_patch(row.patch)
            pad = (k - 1) // 2 if row.padding is None else row.padding
            if 2 * pad > k:
                raise SpecError(f"layers.{row.id}.padding: {pad} is more than half the kernel {k}")
            hw = _pool_out(h, k, st, pad, spec.ceil_mode)
            plan.append(PlannedLayer(row, module_attr(row), name, shape, (c, hw, hw), k, st, pad))
        elif isinstance(row, InceptionRow):
            for i in range(row.repeat):
                c = shape[0]
                widths = _inception_widths(spec, row, c)
                out_c = widths["1x1"] + widths["3x3"] + widths["5x5"] + widths["pool_proj"]
                label = name if i == 0 else f"{name} x{i + 1}"
                layer = PlannedLayer(row, module_attr(row, i), label, shape, (out_c, h, w), widths=widths)
                plan.append(layer)
                shape = layer.out_shape
            continue
        elif isinstance(row, AvgPoolRow):
            plan.append(PlannedLayer(row, row.id, name, shape, (c, 1, 1), kernel=h))
        elif isinstance(row, DropoutRow):
            plan.append(PlannedLayer(row, row.id, name, shape, shape))
        elif isinstance(row, LinearRow):
            plan.append(PlannedLayer(row, row.id, name, shape, (spec.num_classes, 1, 1)))
        else:  # softmax: no module; the network returns logits
            plan.append(PlannedLayer(row, row.id, name, shape, shape))
        shape = plan[-1].out_shape
        if min(shape[1:]) < 1:
            raise SpecError(
                f"layers.{row.id}: the spatial size shrinks to {shape[1]}x{shape[2]} "
                f"(input_size {spec.input_size} is too small for this table; see specs/googlenet-small.yaml)"
            )
    _check_aux(spec, plan)
    weights = sum(_rough_weights(spec, p) for p in plan)
    if weights > MAX_WEIGHTS:
        raise SpecError(f"the network would have about {weights:,} weights (limit {MAX_WEIGHTS:,}); reduce the widths")
    return plan


def _rough_weights(spec: Spec, layer: PlannedLayer) -> int:
    """A rough estimate of a layer's weights, to refuse absurd specs before allocating them."""
    c = layer.in_shape[0]
    if isinstance(layer.row, ConvRow):
        return c * layer.out_shape[0] * layer.kernel**2 + c * layer.widths.get("3x3_reduce", 0)
    if isinstance(layer.row, InceptionRow):
        w, k = layer.widths, spec.branch5x5_kernel
        return c * (w["1x1"] + w["3x3"] * 9 + w["5x5"] * k * k + w["pool_proj"]) + 9 * w["3x3_reduce"] * w["3x3"]
    if isinstance(layer.row, LinearRow):
        return c * layer.out_shape[0]
    return 0


def aux_pool_out(spec: Spec, hw: int) -> int:
    """Spatial size after an aux head's average pool (4 for 'adaptive')."""
    if spec.aux.pool == "adaptive":
        return 4
    k, st = parse_patch(spec.aux.pool)
    return (hw - k) // st + 1


def _check_aux(spec: Spec, plan: list[PlannedLayer]) -> None:
    if not spec.aux.enabled:
        return
    attrs = {p.attr for p in plan}
    for point in spec.aux.attach:
        if f"inception{point}" not in attrs:
            raise SpecError(f"aux.attach: {point} is removed (repeat 0); attach the head elsewhere")
        hw = next(p for p in plan if p.attr == f"inception{point}").out_shape[1]
        if aux_pool_out(spec, hw) < 1:
            raise SpecError(
                f"aux.pool: {spec.aux.pool} needs at least a {parse_patch(spec.aux.pool)[0]}x"
                f"{parse_patch(spec.aux.pool)[0]} input but inception ({point}) outputs {hw}x{hw}; "
                "use aux.pool=adaptive or attach earlier"
            )


def check_claims(spec: Spec) -> None:
    """Check each row's Table 1 claims (output size, avg pool patch) against what the layers compute."""
    previous = "the input"
    for layer in spec.plan():
        row = layer.row
        if row.output is not None and layer.attr == module_attr(row):
            claimed = parse_shape(row.output)
            c, h, w = layer.out_shape
            if claimed != (h, w, c):
                ci, hi, wi = layer.in_shape
                raise SpecError(
                    f"layers.{row.id}.output: claims {row.output} but the layers compute {h}x{w}x{c} "
                    f"from {hi}x{wi}x{ci} ({previous}); fix the widths or the claim"
                )
        if isinstance(row, AvgPoolRow) and row.patch is not None:
            k, _ = parse_patch(row.patch)
            if k != layer.in_shape[1]:
                raise SpecError(
                    f"layers.{row.id}.patch: {row.patch} does not cover the {layer.in_shape[1]}x"
                    f"{layer.in_shape[2]} input (the avg pool is global)"
                )
        previous = layer.name


# --------------------------------------------------------------------------------------------- loading
def parse_overrides(items: list[str] | None, option: str = "--set", example: str = "width_mult=0.5") -> dict[str, Any]:
    """``["aux.enabled=false", "layers.4e.5x5=0"]`` -> ``{"aux.enabled": False, "layers.4e.5x5": 0}``."""
    out: dict[str, Any] = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SpecError(f"{option} {item!r}: expected KEY=VALUE, e.g. {option} {example}")
        try:
            out[key.strip()] = yaml.safe_load(value) if value.strip() else ""
        except yaml.YAMLError as e:
            raise SpecError(f"{option} {item!r}: the value is not valid YAML ({_first_line(e)})") from None
    return out


def apply_overrides(raw: dict[str, Any], overrides: dict[str, Any], source: str) -> dict[str, Any]:
    """Set dotted keys in a raw (unvalidated) spec dict; unknown rows are errors, unknown fields fail later."""
    raw = copy.deepcopy(raw)
    for key, value in overrides.items():
        parts = key.split(".")
        if parts[0] == "layers":
            if len(parts) != 3:
                raise SpecError(f"{source}: override {key!r}: use layers.<row id>.<column>, e.g. layers.4e.5x5")
            rows = raw.get("layers") or []
            if parts[1] == "*":  # every inception row: layers.*.5x5=0 removes the 5x5 branch everywhere
                match = [r for r in rows if isinstance(r, dict) and r.get("type") == "inception"]
            else:
                match = [r for r in rows if isinstance(r, dict) and str(r.get("id")) == parts[1]][:1]
            if not match:
                ids = [str(r.get("id")) for r in rows if isinstance(r, dict)]
                raise SpecError(f"{source}: override {key!r}: no row with id {parts[1]!r} (have {', '.join(ids)})")
            for r in match:
                r[parts[2]] = value
        elif parts[0] in ("aux",) and len(parts) == 2:
            if not isinstance(raw.get("aux"), dict):
                raw["aux"] = {}
            raw["aux"][parts[1]] = value
        elif len(parts) == 1:
            raw[parts[0]] = value
        else:
            raise SpecError(f"{source}: override {key!r}: keys are FIELD, aux.FIELD or layers.ID.COLUMN")
    return raw


def _first_line(e: Exception) -> str:
    return " ".join(str(e).split())


def read_yaml(path: Path, what: str = "spec") -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} file not found (the shipped ones are in {SPEC_DIR})") from None
    except (OSError, UnicodeDecodeError) as e:
        raise SpecError(f"{path}: cannot read the {what} ({_first_line(e)})") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        problem = getattr(e, "problem", None) or "invalid YAML"
        raise SpecError(f"{path}:{where}: {problem}; fix the YAML syntax") from None
    if not isinstance(raw, dict):
        raise SpecError(f"{path}: a {what} must be a YAML mapping, got {type(raw).__name__}")
    return raw


def _resolve_raw(path: Path, depth: int = 0) -> tuple[dict[str, Any], bool]:
    """The raw dict of a spec file after its ``base:`` chain; the flag says whether it is derived."""
    if depth > 8:
        raise SpecError(f"{path}: base: chain is too deep (a cycle?)")
    raw = read_yaml(path)
    if "base" not in raw:
        if "overrides" in raw:
            raise SpecError(f"{path}: 'overrides' needs a 'base' spec to apply to")
        _validate(raw, str(path), claims=True)
        return raw, False
    base = raw.pop("base")
    overrides = raw.pop("overrides", {}) or {}
    if not isinstance(base, str) or not isinstance(overrides, dict):
        raise SpecError(f"{path}: 'base' must be a file name and 'overrides' a mapping of KEY: VALUE")
    base_raw, _ = _resolve_raw((path.parent / base).resolve(), depth + 1)
    merged = apply_overrides(base_raw, {**raw, **overrides}, str(path))
    return merged, True


def _location(raw: dict[str, Any], loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    i = 0
    while i < len(loc):
        part = loc[i]
        if part == "layers" and i + 1 < len(loc) and isinstance(loc[i + 1], int):
            idx = loc[i + 1]
            rows = raw.get("layers") or []
            rid = rows[idx].get("id") if idx < len(rows) and isinstance(rows[idx], dict) else None
            parts.append(f"layers[{idx}]" + (f" (id {rid})" if rid is not None else ""))
            i += 2
            if i < len(loc) and isinstance(loc[i], str) and loc[i] in _ROW_TYPES:
                i += 1  # the discriminator tag pydantic inserts
            continue
        parts.append(str(part))
        i += 1
    return ".".join(parts) or "(top level)"


_ROW_TYPES = {"convolution", "max pool", "inception", "avg pool", "dropout", "linear", "softmax"}


def validation_message(source: str, raw: dict[str, Any], e: ValidationError, reference: str) -> str:
    """One line for a pydantic error: the file, the field path (rows named by id) and what is wrong."""
    err = e.errors()[0]
    where = _location(raw, tuple(err["loc"]))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        msg = f"unknown field {str(err['loc'][-1])!r}; check the spelling against {reference}"
    elif err["type"] == "union_tag_invalid":
        msg = f"unknown row type; use one of {', '.join(sorted(_ROW_TYPES))}"
    elif err["type"] == "union_tag_not_found":
        msg = "each row needs a 'type'"
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{source}: {where}: {msg}{more}"


def _validate(raw: dict[str, Any], source: str, claims: bool) -> Spec:
    try:
        spec = Spec.model_validate(raw)
    except ValidationError as e:
        raise SpecError(validation_message(source, raw, e, "specs/googlenet.yaml")) from None
    try:
        if claims:
            check_claims(spec)
        else:
            spec.plan()
    except SpecError as e:
        raise SpecError(f"{source}: {e}") from None
    return spec


@dataclass(frozen=True)
class LoadedSpec:
    """A spec together with where it came from and what was overridden."""

    spec: Spec
    path: Path
    derived: bool
    overrides: dict[str, Any]


def load_spec(
    path: str | Path | None = None,
    overrides: dict[str, Any] | None = None,
) -> LoadedSpec:
    """Load, resolve ``base:``, apply overrides and validate a spec. Raises :class:`SpecError`."""
    p = Path(path) if path is not None else DEFAULT_SPEC
    raw, derived = _resolve_raw(p)
    overrides = dict(overrides or {})
    if overrides:
        raw = apply_overrides(raw, overrides, "overrides")
    spec = _validate(raw, str(p) if not overrides else f"{p} with {_fmt(overrides)}", claims=False)
    return LoadedSpec(spec, p, derived or bool(overrides), overrides)


def _fmt(overrides: dict[str, Any]) -> str:
    return " ".join(f"--set {k}={v}" for k, v in overrides.items())


def variant_overrides(module: str | None, aux: bool | None, sets: list[str] | None) -> dict[str, Any]:
    """The CLI's variant options (``--module``, ``--aux/--no-aux``, ``--set``) as one override dict."""
    out: dict[str, Any] = {}
    if module is not None:
        if module not in ("naive", "reduced"):
            raise SpecError(f"--module {module!r}: use 'naive' or 'reduced'")
        out["module"] = module
    if aux is not None:
        out["aux.enabled"] = aux
    out.update(parse_overrides(sets))
    return out
