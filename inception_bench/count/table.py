"""Parameters and multiply-adds per Table 1 row, against the paper's printed figures.

Conventions (those of the paper's Table 1):

- ``params``: weights of the conv and linear layers, without biases and without batch norm. The paper prints
  them in K = 1024.
- ``ops``: multiply-adds of the conv and linear layers, one fused multiply-add = one op, counted by fvcore
  (``FlopCountAnalysis``, whose "flop" is a MAC) with batch norm and pooling excluded. The paper prints them
  in M = 10^6.
- A paper figure "matches" when it is within one unit of its last printed digit (159K is 159 +- 1 K).
- ``total`` is the inference network as Table 1 counts it (aux heads excluded; they get rows of their own).
  ``params_all`` counts every parameter (biases and batch norm included) of the inference network and
  ``params_all_with_aux`` adds the aux heads.

For totals alone, :func:`inception_bench.count.totals` is cheaper (meta device, no fvcore trace).
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from inception_bench.errors import FieldError
from inception_bench.models import GoogLeNet, build_model
from inception_bench.spec import (
    AnyRow,
    ConvRow,
    InceptionRow,
    LinearRow,
    LoadedSpec,
    ModuleRow,
    PaperFigure,
    PlannedLayer,
    Spec,
    display_path,
    row_name,
)
from inception_bench.spec.plan import attach_layer


@dataclass
class RowCount:
    id: str
    name: str
    type: str
    output: str  # computed HxWxC of this variant
    paper_output: str | None
    params: int
    ops: int
    paper_params: int | None
    paper_ops: int | None
    params_diff_pct: float | None
    ops_diff_pct: float | None
    params_match: bool | None
    ops_match: bool | None
    explanation: str


@dataclass
class AuxCount:
    name: str
    attach: str
    params: int
    ops: int


@dataclass
class CountReport:
    spec: str
    spec_name: str
    variant: dict[str, Any]
    overrides: dict[str, Any]
    notes: list[str]
    rows: list[RowCount]
    aux: list[AuxCount]
    total: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# ------------------------------------------------------------------------------------------ the counting
def _weights(module: nn.Module) -> int:
    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d | nn.Linear))


def _macs(module: nn.Module, shape: tuple[int, ...]) -> dict[str, int]:
    """fvcore multiply-adds per submodule (by qualified name) for one input of ``shape`` (batch 1), BN and pooling
    excluded."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's jit tracing warns about torch.jit deprecations
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, torch.zeros(1, *shape))
        # Count these as 0. (fvcore's set_op_handle(op, None) only silences the warning and keeps counting.)
        for op in ("aten::batch_norm", "aten::adaptive_avg_pool2d", "aten::avg_pool2d"):
            analysis.set_op_handle(op, _zero)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        return dict(analysis.by_module())


def _zero(inputs: Any, outputs: Any) -> int:
    return 0


def table_arithmetic(row: AnyRow, in_channels: int) -> tuple[int, int] | None:
    """Weights and MACs that the row's own Table 1 numbers imply (reduced module, true 5x5, full 7x7 conv1).

    This is the arithmetic in the paper notes; ``in_channels`` is the depth the previous row claims.
    """
    if row.output is None or isinstance(row, ModuleRow):  # a module row's sizes vary branch by branch
        return None
    c_out = row.output.depth
    if isinstance(row, ConvRow):
        k = row.patch.kernel
        weights = in_channels * row.reduce + row.reduce * k * k * c_out if row.reduce else in_channels * k * k * c_out
    elif isinstance(row, InceptionRow):
        c = in_channels
        weights = (
            c * row.n1x1
            + c * row.n3x3_reduce
            + 9 * row.n3x3_reduce * row.n3x3
            + c * row.n5x5_reduce
            + 25 * row.n5x5_reduce * row.n5x5
            + c * (0 if row.pool_proj == "pass" else row.pool_proj)
        )
    elif isinstance(row, LinearRow):
        weights = in_channels * c_out
    else:
        return 0, 0
    return weights, weights * row.output.height * row.output.width


def _diff(ours: int, fig: PaperFigure | None) -> tuple[int | None, float | None, bool | None]:
    if fig is None:
        return None, None, None
    paper = fig.exact
    pct = (ours - paper) / paper * 100 if paper else None
    return paper, pct, abs(ours - paper) <= fig.resolution


def human(n: int, unit: str) -> str:
    """``n`` in K (= 1024) or M (= 10^6) with one decimal: ``159.5K``, ``128.0M``."""
    scale = 1024 if unit == "K" else 10**6
    return f"{n / scale:.1f}{unit}"


def _explain(
    row: AnyRow, ours: tuple[int, int], table: tuple[int, int] | None, matches: tuple[bool | None, bool | None]
) -> str:
    if all(m is not False for m in matches):
        return ""
    if table is not None and ours != table:
        return (
            f"this variant changes the row: the table's own numbers give {table[0]:,} weights / "
            f"{human(table[1], 'M')}, this variant {ours[0]:,} / {human(ours[1], 'M')}"
        )
    if row.note:
        return row.note
    if table is not None:
        which = [w for w, m in zip(("params", "ops"), matches, strict=True) if m is False]
        return (
            f"the paper's {' and '.join(which)} do not follow from the row's own channel numbers, which give "
            f"{table[0]:,} weights = {human(table[0], 'K')} and {human(table[1], 'M')} MACs"
        )
    return ""


def _variant_notes(loaded: LoadedSpec, plan: list[PlannedLayer]) -> list[str]:
    spec = loaded.spec
    notes: list[str] = []
    if spec.module == "naive":
        grown = [
            f"{p.name} {p.out_shape[0]} ({p.row.output.depth})"
            for p in plan
            if isinstance(p.row, InceptionRow) and p.row.output and not p.is_copy
        ]
        notes.append(
            "naive modules (Figure 2a): no 1x1 reductions and the pool branch passes its input through, so "
            "widths grow module after module; output channels (Table 1 in brackets): " + ", ".join(grown)
        )
    if spec.stem == "separable":
        notes.append("conv1 is the separable-stem hypothesis: depthwise 7x7 (3 -> 24) + 1x1 (24 -> 64)")
    if loaded.derived:
        notes.append(
            "this is a variant of the table: 'output' is what its layers compute, 'paper_output' the table's claim"
        )
    return notes


def _shape_before(plan: list[PlannedLayer], row: AnyRow, spec: Spec) -> tuple[int, int, int]:
    """The shape flowing past a row that builds no module (an inception row with repeat 0)."""
    before = (spec.in_channels, spec.input_size, spec.input_size)
    for p in plan:
        if p.row is row:
            break
        before = p.out_shape
    return before


def count(loaded: LoadedSpec) -> CountReport:
    """Count params and ops of the spec's network row by row (see the module docstring for conventions)."""
    spec = loaded.spec
    model: GoogLeNet = build_model(spec).eval()
    plan = model.plan
    macs = _macs(model, (spec.in_channels, spec.input_size, spec.input_size))

    rows: list[RowCount] = []
    prev_claimed_depth = spec.in_channels
    for row in spec.layers:
        layers = [p for p in plan if p.row is row]
        built = [p for p in layers if p.attr in model.paths]  # the softmax row builds no module
        params = sum(_weights(model.layer(p.attr)) for p in built)
        ops = sum(macs.get(model.paths[p.attr], 0) for p in built)
        out = layers[-1].out_shape if layers else _shape_before(plan, row, spec)
        pp, ppct, pmatch = _diff(params, row.params)
        po, opct, omatch = _diff(ops, row.ops)
        table = table_arithmetic(row, prev_claimed_depth)
        rows.append(
            RowCount(
                id=row.id,
                name=row_name(row, spec.layers),
                type=row.type,
                output=f"{out[1]}x{out[2]}x{out[0]}",
                paper_output=str(row.output) if row.output is not None else None,
                params=params,
                ops=ops,
                paper_params=pp,
                paper_ops=po,
                params_diff_pct=ppct,
                ops_diff_pct=opct,
                params_match=pmatch,
                ops_match=omatch,
                explanation=_explain(row, (params, ops), table, (pmatch, omatch)),
            )
        )
        if row.output is not None:
            prev_claimed_depth = row.output.depth

    aux: list[AuxCount] = []
    for point, head in model.aux_heads.items():
        attached = attach_layer(plan, point)
        assert attached is not None  # the spec's validation
        macs_head = _macs(head, attached.out_shape).get("", 0)
        aux.append(AuxCount(f"aux classifier ({point})", point, _weights(head), macs_head))

    in_aux = {id(p) for head in model.aux_heads.values() for p in head.parameters()}
    paper_p = [r.paper_params for r in rows if r.paper_params is not None]
    paper_o = [r.paper_ops for r in rows if r.paper_ops is not None]
    total = {
        "params": sum(r.params for r in rows),
        "ops": sum(r.ops for r in rows),
        "paper_params": sum(paper_p) if paper_p else None,
        "paper_ops": sum(paper_o) if paper_o else None,
        "params_all": sum(p.numel() for p in model.parameters() if id(p) not in in_aux),
        "params_all_with_aux": sum(p.numel() for p in model.parameters()),
        "aux_params": sum(a.params for a in aux),
        "aux_ops": sum(a.ops for a in aux),
        # published totals are of the table as it stands: not of a variant made by overrides
        "reference": spec.reference.model_dump() if spec.reference is not None and not loaded.overrides else None,
    }
    return CountReport(
        spec=display_path(loaded.path),
        spec_name=spec.name,
        variant=spec.variant(),
        overrides=loaded.overrides,
        notes=_variant_notes(loaded, plan),
        rows=rows,
        aux=aux,
        total=total,
    )


# ------------------------------------------------------------------------------------------- comparison
def compare(a: CountReport, b: CountReport, labels: tuple[str, str]) -> dict[str, Any]:
    """Two variants of the same table side by side, per row and in total (b / a ratios)."""
    rows = []
    b_rows = {r.id: r for r in b.rows}
    for ra in a.rows:
        rb = b_rows.get(ra.id)
        if rb is None or not (ra.params or rb.params):
            continue
        rows.append(
            {
                "id": ra.id,
                "name": ra.name,
                f"{labels[0]}_output": ra.output,
                f"{labels[1]}_output": rb.output,
                f"{labels[0]}_params": ra.params,
                f"{labels[1]}_params": rb.params,
                "params_ratio": rb.params / ra.params if ra.params else None,
                f"{labels[0]}_ops": ra.ops,
                f"{labels[1]}_ops": rb.ops,
                "ops_ratio": rb.ops / ra.ops if ra.ops else None,
            }
        )
    ta, tb = a.total, b.total
    total = {
        f"{labels[0]}_params": ta["params"],
        f"{labels[1]}_params": tb["params"],
        "params_ratio": tb["params"] / ta["params"],
        f"{labels[0]}_ops": ta["ops"],
        f"{labels[1]}_ops": tb["ops"],
        "ops_ratio": tb["ops"] / ta["ops"],
    }
    return {"spec": a.spec, "labels": list(labels), "rows": rows, "total": total}


def compare_modules(loaded: LoadedSpec) -> tuple[dict[str, Any], list[str]]:
    """What the 1x1 reductions buy: the spec with reduced and with naive modules side by side, and the naive
    variant's notes. A spec without inception rows (Inception-v3's modules are module rows, which ``module``
    leaves as written) is a :class:`FieldError` of ``compare``."""
    if not any(isinstance(row, InceptionRow) for row in loaded.spec.layers):
        raise FieldError(
            "compare",
            f"{loaded.spec.name} has no inception rows (its modules are written as branches, which 'module' leaves "
            "as written): naive vs reduced applies to GoogLeNet-style tables only",
        )
    reduced, naive = (count(loaded.with_overrides({"module": kind})) for kind in ("reduced", "naive"))
    return compare(reduced, naive, ("reduced", "naive")), naive.notes
