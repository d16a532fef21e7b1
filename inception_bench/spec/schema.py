"""The spec's schema: one pydantic model per Table 1 row type, the auxiliary heads, and :class:`Spec`.

- The ``params`` and ``ops`` columns are the paper's printed figures (:class:`PaperFigure`); they are reference
  data, never used to build anything.
- Widths that build the network: an inception row's ``1x1``, ``3x3_reduce``, ``3x3``, ``5x5_reduce``, ``5x5`` and
  ``pool_proj``; a convolution row's output depth (``output``'s depth, or ``3x3``), with ``3x3_reduce`` for the 1x1
  reduction in front of a depth-2 convolution; the linear row's width is ``num_classes``.
- ``output`` and the avg pool's ``patch`` are the table's claims (checked for a spec file that stands alone; see
  :func:`inception_bench.spec.plan.check_claims`).

Nothing here imports torch.
"""

from __future__ import annotations

from collections import Counter
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainValidator, ValidationError, field_validator, model_validator

from inception_bench.spec.branches import MAX_WIDTH, Branch
from inception_bench.spec.types import PaperFigure, Patch, Shape


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class _Row(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9_]+$", description="unique row key, used in overrides")
    output: Shape | None = Field(None, description="Table 1 output size HxWxC (a claim)")
    depth: int | None = Field(None, ge=0, description="Table 1 depth column (layers with parameters)")
    params: PaperFigure | None = Field(None, description="paper's printed params figure, e.g. 159K")
    ops: PaperFigure | None = Field(None, description="paper's printed ops figure, e.g. 128M")
    note: str | None = Field(None, description="why the paper's figures differ from the row's arithmetic")


class ConvRow(_Row):
    type: Literal["convolution"]
    patch: Patch
    reduce: int | None = Field(
        None, alias="3x3_reduce", ge=1, le=MAX_WIDTH, description="1x1 reduction before the conv"
    )
    width: int | None = Field(
        None, alias="3x3", ge=1, le=MAX_WIDTH, description="the conv's width (defaults to output depth)"
    )
    padding: int | None = Field(
        None, ge=0, description="default kernel//2 (the size kept at stride 1); 0: a 'valid' conv (Inception-v3's stem)"
    )

    @model_validator(mode="after")
    def _width_known(self) -> ConvRow:
        if self.width is None and self.output is None:
            raise ValueError("a convolution row needs 'output' (HxWxC) or '3x3' to know its width")
        if self.width is not None and self.output is not None and self.output.depth != self.width:
            raise ValueError(f"'3x3' ({self.width}) must equal the depth of 'output' ({self.output})")
        return self

    @property
    def channels(self) -> int:
        if self.width is not None:
            return self.width
        assert self.output is not None  # _width_known
        return self.output.depth


class MaxPoolRow(_Row):
    type: Literal["max pool"]
    patch: Patch
    padding: int | None = Field(None, ge=0, description="default (kernel-1)//2")


def _pool_proj(value: Any) -> int | Literal["pass"]:
    if value == "pass":
        return "pass"
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_WIDTH:
        raise ValueError(f"a width from 0 (no pool branch) to {MAX_WIDTH}, or pass (the pooled input unprojected)")
    return value


class InceptionRow(_Row):
    type: Literal["inception"]
    n1x1: int = Field(alias="1x1", ge=0, le=MAX_WIDTH)
    n3x3_reduce: int = Field(alias="3x3_reduce", ge=0, le=MAX_WIDTH)
    n3x3: int = Field(alias="3x3", ge=0, le=MAX_WIDTH)
    n5x5_reduce: int = Field(alias="5x5_reduce", ge=0, le=MAX_WIDTH)
    n5x5: int = Field(alias="5x5", ge=0, le=MAX_WIDTH)
    pool_proj: Annotated[int | Literal["pass"], PlainValidator(_pool_proj)] = Field(
        description="the pool branch's 1x1 projection width (0 removes the branch), or pass: the pooled input "
        "passes through unprojected (BN-Inception's 'max + pass through')"
    )
    pool: Literal["max", "avg"] = Field("max", description="the pool branch's 3x3 pool (BN-Inception uses both)")
    stride: int = Field(
        1,
        ge=1,
        le=2,
        description="2: a grid-reducing module (BN-Inception's 3c and 4e): the 3x3 branch's conv, the last conv of "
        "the '5x5' branch and the pool stride 2; it has no 1x1 branch",
    )
    repeat: int = Field(1, ge=0, le=8, description="0 removes the module, 2+ repeats it (depth ablations)")

    @model_validator(mode="after")
    def _strided_without_1x1(self) -> InceptionRow:
        if self.stride == 2 and self.n1x1:
            raise ValueError("a stride-2 module has no 1x1 branch (it would drop 3 of 4 pixels); set 1x1: 0")
        return self


class ModuleRow(_Row):
    """An Inception module written as its branches (:mod:`inception_bench.spec.branches`): the successors' modules
    (Inception-v3's factorised, asymmetric and grid-reducing ones) row by row, as the table gives them. Widths scale
    with ``width_mult``; a 1x1 reduction or projection also with ``reduce_mult``. ``module``, ``branch5x5`` and
    ``factorize_nxn`` leave it as written."""

    type: Literal["module"]
    branches: list[Branch] = Field(min_length=1, description="one line per branch, concatenated in order")


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


AnyRow = ConvRow | MaxPoolRow | InceptionRow | ModuleRow | AvgPoolRow | DropoutRow | LinearRow | SoftmaxRow
Row = Annotated[AnyRow, Field(discriminator="type")]
ROW_TYPES = ("convolution", "max pool", "inception", "module", "avg pool", "dropout", "linear", "softmax")
MODULE_ROWS = (InceptionRow, ModuleRow)  # the rows that build an Inception module (aux heads attach to them)


def _aux_pool(value: Any) -> Patch | Literal["adaptive"]:
    return "adaptive" if value == "adaptive" else Patch._validate(value)


class AuxSpec(_Strict):
    """The auxiliary classifiers (paper section 5): one head after each attach point, discarded at inference."""

    enabled: bool = True
    attach: list[str] = Field(default_factory=lambda: ["4a", "4d"], description="inception row ids (aux1, aux2, ...)")
    loss_weight: float = Field(0.3, ge=0.0)
    pool: Annotated[Patch | Literal["adaptive"], PlainValidator(_aux_pool)] = Field(
        Patch(5, 3), description="'KxK/S' average pool, or 'adaptive' (4x4, as torchvision)"
    )
    conv: int = Field(128, ge=1, le=MAX_WIDTH, description="1x1 conv filters")
    conv2: int = Field(
        0,
        ge=0,
        le=MAX_WIDTH,
        description="filters of a 5x5 'valid' convolution after the 1x1, its output average-pooled to 1x1 "
        "(Inception-v3's head: 5x5 768); 0: none",
    )
    fc: int = Field(1024, ge=0, le=65536, description="fully connected width; 0: none (the classifier reads the convs)")
    dropout: float = Field(0.7, ge=0.0, lt=1.0)
    batch_norm: bool | None = Field(
        None,
        description="batch norm in the head: true: after its conv and its fc (Inception-v3's BN-auxiliary, Szegedy "
        "et al. 2015, sec. 7); false: none; default: the conv's as the network's batch_norm, the fc without",
    )

    @model_validator(mode="after")
    def _fc_for_its_norm(self) -> AuxSpec:
        if self.batch_norm and self.fc == 0:
            raise ValueError("batch_norm: true puts batch norm after the fc, but fc is 0 (none); set an fc width")
        return self


class Reference(_Strict):
    """Published whole-network figures for a table that prints none per row (BN-Inception's): ``ibench count`` sets
    its totals beside them, with why they differ."""

    source: str = Field(description="where the figures come from")
    params: int | None = Field(None, ge=1, description="every parameter (biases and batch norm too), as counted there")
    ops: int | None = Field(
        None, ge=1, description="multiply-adds per image at the spec's input size, as counted there"
    )
    note: str = Field("", description="why ours differ")


class Spec(_Strict):
    """A validated architecture spec. Build one with :func:`inception_bench.spec.load_spec`."""

    # What a recorded spec (config.json, request.json) that predates a field was built with.
    # recorded() fills every other field at its default, so only a field whose older value is not its default needs
    # an entry (these two are also their defaults: kept from before recorded() filled defaults).
    LEGACY: ClassVar[dict[str, Any]] = {"bn_bias": 0.0, "bn_bias_heads": None}
    # Words about the network, not the network: a recorded spec compares equal without them.
    NOT_THE_NETWORK: ClassVar[tuple[str, ...]] = ("description", "reference")

    name: str
    description: str = ""
    input_size: int = Field(224, ge=8, le=2048)
    in_channels: int = Field(3, ge=1, le=64)
    num_classes: int = Field(1000, ge=2, le=100_000)
    module: Literal["reduced", "naive"] = Field("reduced", description="Figure 2b (reduced) or 2a (naive)")
    stem: Literal["full", "separable"] = Field("full", description="conv1: full 7x7, or separable 7x7")
    batch_norm: bool = False
    bn_eps: float = Field(1e-5, gt=0)
    bn_bias: float = Field(
        0.0,
        ge=-10,
        le=10,
        allow_inf_nan=False,
        description="batch norm's initial bias (beta): 1 keeps about 84% of the ReLUs after it active at the start",
    )
    bn_bias_heads: float | None = Field(
        None,
        ge=-10,
        le=10,
        allow_inf_nan=False,
        description="the initial bias of the batch norms whose outputs the classifiers read (the last layer of each "
        "branch of the last Inception module, the aux heads' conv); default: bn_bias",
    )
    ceil_mode: bool = Field(False, description="max pools round their output size up")
    branch5x5_kernel: int = Field(5, ge=1, le=11, description="kernel of the '5x5' branch (odd)")
    branch5x5: Literal["single", "stacked_3x3"] = Field(
        "single",
        description="the '5x5' branch's convolution: single (one k x k, k = branch5x5_kernel) | stacked_3x3 ((k-1)/2 "
        "3x3 convolutions of the branch's width: the same receptive field, BN-Inception's change, Ioffe & Szegedy "
        "2015)",
    )
    grid_reduction: Literal["max_pool", "branches"] = Field(
        "max_pool",
        description="the stride-2 max pools between Inception stages: max_pool (the paper) | branches (Inception-v3's "
        "grid reduction, Szegedy et al. 2015, Figure 10: the max pool beside a 1x1 -> 3x3/2 conv branch of half "
        "the input's width, concatenated: the grid halves while the filters grow 1.5x)",
    )
    factorize_nxn: bool = Field(
        False,
        description="each n x n convolution (n > 1) of the Inception branches as a 1 x n then an n x 1 one, each "
        "with its own activation (Inception-v3's factorisation, Szegedy et al. 2015, Figure 6)",
    )
    width_mult: float = Field(1.0, gt=0, le=8, description="multiplies every width")
    reduce_mult: float = Field(1.0, gt=0, le=8, description="multiplies 3x3/5x5 reduce and pool proj widths")
    init: Literal["xavier", "kaiming", "kaiming_in", "trunc_normal"] = "xavier"
    transform_input: bool = Field(False, description="torchvision's ImageNet re-normalisation of the input")
    torchvision_model: Literal["googlenet", "inception_v3"] = Field(
        "googlenet",
        description="torchvision's model of this family, which ibench bench measures beside the spec (vs_torchvision)",
    )
    reference: Reference | None = Field(None, description="published totals, for a table without per-row figures")
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
        if self.branch5x5 == "stacked_3x3" and self.branch5x5_kernel < 3:
            raise ValueError("branch5x5: stacked_3x3 needs branch5x5_kernel 3 or more (it stacks (k-1)/2 3x3 convs)")
        ids = [r.id for r in self.layers]
        dup = [i for i, n in Counter(ids).items() if n > 1]
        if dup:
            raise ValueError(f"layers: row ids must be unique, repeated: {', '.join(dup)}")
        linear = [r for r in self.layers if isinstance(r, LinearRow)]
        if len(linear) != 1 or not isinstance(self.layers[-1], LinearRow | SoftmaxRow):
            raise ValueError("layers: the table must end with exactly one 'linear' row (optionally + 'softmax')")
        if self.transform_input and self.in_channels != 3:
            raise ValueError("transform_input re-normalises RGB ImageNet inputs; it needs in_channels=3")
        modules = [r.id for r in self.layers if isinstance(r, MODULE_ROWS)]
        for point in self.aux.attach if self.aux.enabled else []:  # a table without heads needs no attach points
            if point not in modules:
                raise ValueError(f"aux.attach: {point!r} is not an inception or module row id (have {sorted(modules)})")
        return self

    # ------------------------------------------------------------------ derived quantities
    def row(self, row_id: str) -> AnyRow:
        return next(r for r in self.layers if r.id == row_id)

    def scaled(self, channels: int, reduce: bool = False) -> int:
        """A width after the global (and, for reductions/projections, the reduce) multiplier; 0 stays 0."""
        if channels == 0:
            return 0
        m = self.width_mult * (self.reduce_mult if reduce else 1.0)
        return max(1, int(round(channels * m)))

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
            "branch5x5": self.branch5x5,
            "factorize_nxn": self.factorize_nxn,
            "grid_reduction": self.grid_reduction,
            "aux_batch_norm": self.aux.batch_norm,
            "width_mult": self.width_mult,
            "reduce_mult": self.reduce_mult,
            "input_size": self.input_size,
            "num_classes": self.num_classes,
        }

    @classmethod
    def recorded(cls, raw: Any) -> Any:
        """A recorded spec (its plain data) with the fields it predates at what it was built with
        (:attr:`LEGACY`) and without :attr:`NOT_THE_NETWORK`, for comparing with today's dump of the same network."""
        if not isinstance(raw, dict):
            return raw
        filled = {**cls.LEGACY, **raw}
        try:  # through the schema: fields added since (a row's pool, stride) at their defaults, as today's dump
            filled = cls.model_validate(filled).to_raw()
        except ValidationError:  # a record today's schema refuses: compared as it is (it differs)
            pass
        return {k: v for k, v in filled.items() if k not in cls.NOT_THE_NETWORK}

    def to_raw(self) -> dict[str, Any]:
        """The spec as the plain data of a spec file (the table's text forms, column names as aliases)."""
        return self.model_dump(mode="json", by_alias=True)


def row_name(row: AnyRow, spec_rows: list[AnyRow] | None = None) -> str:
    """The row's Table 1 label: ``inception (3a)``, ``convolution (conv1)``, ``linear``, ``dropout (40%)``."""
    if isinstance(row, MODULE_ROWS):
        return f"inception ({row.id})"
    if isinstance(row, DropoutRow):
        return f"dropout ({row.rate:.0%})"
    if spec_rows is not None and sum(r.type == row.type for r in spec_rows) == 1:
        return row.type
    return f"{row.type} ({row.id})"
