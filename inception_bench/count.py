"""Parameters and multiply-adds per Table 1 row, against the paper's printed figures.

Conventions (the paper's, see ``../shared/paper/googlenet.md``):

- ``params``: weights of the conv and linear layers, without biases and without batch norm. The paper prints
  them in K = 1024.
- ``ops``: multiply-adds of the conv and linear layers, one fused multiply-add = one op, counted by fvcore
  (``FlopCountAnalysis``, whose "flop" is a MAC) with batch norm and pooling excluded. The paper prints them
  in M = 10^6.
- A paper figure "matches" when it is within one unit of its last printed digit (159K is 159 +- 1 K).
- ``total`` is the inference network as Table 1 counts it (aux heads excluded; they get rows of their own).
  ``params_all`` counts every parameter (biases and batch norm included) of the inference network and
  ``params_all_with_aux`` adds the aux heads.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

from inception_bench.spec import (
    ConvRow,
    InceptionRow,
    LinearRow,
    LoadedSpec,
    PaperFigure,
    Spec,
    display_path,
    parse_figure,
    parse_patch,
    parse_shape,
    row_name,
)

UNITS = (
    "params: conv/linear weights without biases or BN (paper convention; K = 1024). "
    "ops: multiply-adds of conv/linear layers (fvcore, 1 MAC = 1 op; M = 10^6). "
    "diff: (ours - paper) / paper."
)


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
def _weights(module: Any) -> int:
    from torch import nn

    return sum(m.weight.numel() for m in module.modules() if isinstance(m, nn.Conv2d | nn.Linear))


def _macs(module: Any, shape: tuple[int, ...]) -> dict[str, int]:
    """fvcore multiply-adds per submodule for one input of ``shape`` (batch 1), BN and pooling excluded."""
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fvcore's jit tracing warns about torch.jit deprecations
        from fvcore.nn import FlopCountAnalysis

        analysis = FlopCountAnalysis(module, torch.zeros(1, *shape))
        # Count these as 0. (fvcore's set_op_handle(op, None) only silences the warning and keeps counting.)
        for op in ("aten::batch_norm", "aten::adaptive_avg_pool2d", "aten::avg_pool2d"):
            analysis.set_op_handle(op, _zero)
        analysis.unsupported_ops_warnings(False).uncalled_modules_warnings(False)
        counts = dict(analysis.by_module())
    return counts


def _zero(inputs: Any, outputs: Any) -> int:
    return 0


def table_arithmetic(spec: Spec, row: Any, in_channels: int) -> tuple[int, int] | None:
    """Weights and MACs that the row's own Table 1 numbers imply (reduced module, true 5x5, full 7x7 conv1).

    This is the arithmetic in the paper notes; ``in_channels`` is the depth the previous row claims.
    """
    if row.output is None:
        return None
    h, w, c_out = parse_shape(row.output)
    if isinstance(row, ConvRow):
        k, _ = parse_patch(row.patch)
        weights = in_channels * row.reduce + row.reduce * k * k * c_out if row.reduce else in_channels * k * k * c_out
    elif isinstance(row, InceptionRow):
        c = in_channels
        weights = (
            c * row.n1x1
            + c * row.n3x3_reduce
            + 9 * row.n3x3_reduce * row.n3x3
            + c * row.n5x5_reduce
            + 25 * row.n5x5_reduce * row.n5x5
            + c * row.pool_proj
        )
    elif isinstance(row, LinearRow):
        weights = in_channels * c_out
    else:
        return 0, 0
    return weights, weights * h * w


def _diff(ours: int, fig: PaperFigure | None) -> tuple[int | None, float | None, bool | None]:
    if fig is None:
        return None, None, None
    paper = fig.exact
    pct = (ours - paper) / paper * 100 if paper else None
    return paper, pct, abs(ours - paper) <= fig.resolution


def _human(n: int, unit: str) -> str:
    scale = 1024 if unit == "K" else 10**6
    return f"{n / scale:.1f}{unit}"


def _explain(
    row: Any, ours: tuple[int, int], table: tuple[int, int] | None, matches: tuple[bool | None, bool | None]
) -> str:
    if all(m is not False for m in matches):
        return ""
    parts: list[str] = []
    if table is not None and tuple(ours) != tuple(table):
        parts.append(
            f"this variant changes the row: the table's own numbers give {table[0]:,} weights / "
            f"{_human(table[1], 'M')}, this variant {ours[0]:,} / {_human(ours[1], 'M')}"
        )
    elif row.note:
        parts.append(row.note)
    elif table is not None:
        which = [w for w, m in zip(("params", "ops"), matches, strict=True) if m is False]
        parts.append(
            f"the paper's {' and '.join(which)} do not follow from the row's own channel numbers, which give "
            f"{table[0]:,} weights = {_human(table[0], 'K')} and {_human(table[1], 'M')} MACs"
        )
    return "; ".join(parts)


def _variant_notes(loaded: LoadedSpec, plan: list[Any]) -> list[str]:
    spec = loaded.spec
    notes: list[str] = []
    if spec.module == "naive":
        grown = []
        for layer in plan:
            if isinstance(layer.row, InceptionRow) and layer.row.output and layer.attr == f"inception{layer.row.id}":
                grown.append(f"{layer.name} {layer.out_shape[0]} ({parse_shape(layer.row.output)[2]})")
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


def count(loaded: LoadedSpec) -> CountReport:
    """Count params and ops of the spec's network row by row (see the module docstring for conventions)."""
    from inception_bench.models import build_model

    spec = loaded.spec
    model = build_model(spec).eval()
    plan = model.plan
    macs = _macs(model, (spec.in_channels, spec.input_size, spec.input_size))

    rows: list[RowCount] = []
    prev_claimed_depth = spec.in_channels
    for row in spec.layers:
        layers = [p for p in plan if p.row is row]
        modules = [getattr(model, p.attr) for p in layers if hasattr(model, p.attr)]
        params = sum(_weights(m) for m in modules)
        ops = sum(macs.get(p.attr, 0) for p in layers if hasattr(model, p.attr))
        out = layers[-1].out_shape if layers else _shape_before(plan, row)
        pp, ppct, pmatch = _diff(params, parse_figure(row.params) if row.params else None)
        po, opct, omatch = _diff(ops, parse_figure(row.ops) if row.ops else None)
        table = table_arithmetic(spec, row, prev_claimed_depth)
        rows.append(
            RowCount(
                id=row.id,
                name=row_name(row, spec.layers),
                type=row.type,
                output=f"{out[1]}x{out[2]}x{out[0]}",
                paper_output=row.output,
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
            prev_claimed_depth = parse_shape(row.output)[2]

    aux: list[AuxCount] = []
    for layer_attr, head in model.aux_after.items():
        layer = next(p for p in plan if p.attr == layer_attr)
        module = getattr(model, head)
        aux.append(
            AuxCount(
                name=f"aux classifier ({layer.row.id})",
                attach=layer.row.id,
                params=_weights(module),
                ops=sum(v for k, v in _macs(module, layer.out_shape).items() if k == ""),
            )
        )

    inference = [p for n, p in model.named_parameters() if not n.startswith("aux")]
    paper_p = [r.paper_params for r in rows if r.paper_params is not None]
    paper_o = [r.paper_ops for r in rows if r.paper_ops is not None]
    total = {
        "params": sum(r.params for r in rows),
        "ops": sum(r.ops for r in rows),
        "paper_params": sum(paper_p) if paper_p else None,
        "paper_ops": sum(paper_o) if paper_o else None,
        "params_all": sum(p.numel() for p in inference),
        "params_all_with_aux": sum(p.numel() for p in model.parameters()),
        "aux_params": sum(a.params for a in aux),
        "aux_ops": sum(a.ops for a in aux),
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


def _shape_before(plan: list[Any], row: Any) -> tuple[int, int, int]:
    """The shape flowing past a row that builds no module (an inception row with repeat 0)."""
    before = None
    for p in plan:
        if p.row is row:
            break
        before = p
    return before.out_shape if before is not None else (0, 0, 0)


# ------------------------------------------------------------------------------------------- formatting
def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.1f}%"


def _fig(v: int | None, unit: str) -> str:
    """A paper figure as printed (159K, 2.7K, 34M)."""
    if v is None:
        return ""
    return f"{round(v / (1024 if unit == 'K' else 10**6), 1):g}{unit}"


def _flat_rows(report: CountReport) -> list[dict[str, Any]]:
    """Table rows, aux rows and the total as flat dicts (CSV and Markdown share them)."""
    out: list[dict[str, Any]] = []
    for r in report.rows:
        out.append(asdict(r))
    for a in report.aux:
        out.append({"id": f"aux_{a.attach}", "name": a.name, "type": "aux", "params": a.params, "ops": a.ops})
    t = report.total
    out.append(
        {
            "id": "total",
            "name": "total (inference, as Table 1)",
            "type": "total",
            "params": t["params"],
            "ops": t["ops"],
            "paper_params": t["paper_params"],
            "paper_ops": t["paper_ops"],
        }
    )
    return out


CSV_COLUMNS = [
    "id",
    "name",
    "type",
    "output",
    "paper_output",
    "params",
    "paper_params",
    "params_diff_pct",
    "ops",
    "paper_ops",
    "ops_diff_pct",
    "explanation",
]


def to_csv(report: CountReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in _flat_rows(report):
        r = dict(r)
        for k in ("params_diff_pct", "ops_diff_pct"):
            if r.get(k) is not None:
                r[k] = f"{r[k]:.2f}"
        writer.writerow(r)
    return buf.getvalue()


def to_json(report: CountReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def _header(report: CountReport) -> list[str]:
    v = report.variant
    lines = [
        f"spec: {report.spec} ({report.spec_name}); module {v['module']}, aux {'on' if v['aux'] else 'off'}, "
        f"stem {v['stem']}, batch norm {'on' if v['batch_norm'] else 'off'}, input {v['input_size']}, "
        f"classes {v['num_classes']}" + (f"; overrides {report.overrides}" if report.overrides else ""),
        f"units: {UNITS}",
    ]
    return lines + [f"note: {n}" for n in report.notes]


def _totals_lines(report: CountReport) -> list[str]:
    t = report.total
    lines = [
        f"total (inference, as Table 1): {t['params']:,} weights, {t['ops'] / 1e9:.3f}G multiply-adds"
        + (
            f" (sum of the paper's rows: {t['paper_params']:,} and {t['paper_ops'] / 1e9:.3f}G)"
            if t["paper_params"]
            else ""
        ),
        f"all parameters (biases and BN included): {t['params_all']:,} without aux heads, "
        f"{t['params_all_with_aux']:,} with them",
    ]
    for a in report.aux:
        lines.append(f"{a.name}: {a.params:,} weights, {_human(a.ops, 'M')} multiply-adds (training only)")
    return lines


def to_markdown(report: CountReport, command: str | None = None) -> str:
    lines = [f"# Parameters and multiply-adds: {report.spec_name}", ""]
    if command:
        lines += [f"Produced by `{command}`.", ""]
    lines += [f"- {h}" for h in _header(report)] + [""]
    lines.append("| row | output | params | paper | diff | ops | paper | diff | explanation |")
    lines.append("|---|---|---:|---:|---:|---:|---:|---:|---|")
    for r in report.rows:
        if not (r.params or r.paper_params):
            lines.append(f"| {r.name} | {r.output} | | | | | | | |")
            continue
        lines.append(
            f"| {r.name} | {r.output} | {r.params:,} | {_fig(r.paper_params, 'K')} | {_pct(r.params_diff_pct)} "
            f"| {_human(r.ops, 'M')} | {_fig(r.paper_ops, 'M')} | {_pct(r.ops_diff_pct)} | {r.explanation} |"
        )
    for a in report.aux:
        lines.append(f"| {a.name} | | {a.params:,} | | | {_human(a.ops, 'M')} | | | training only |")
    t = report.total
    lines.append(
        f"| **total** | | **{t['params']:,}** | {_fig(t['paper_params'], 'K')} | | "
        f"**{t['ops'] / 1e9:.3f}G** | {_fig(t['paper_ops'], 'M')} | | aux heads excluded |"
    )
    lines += [""] + [f"- {x}" for x in _totals_lines(report)]
    return "\n".join(lines) + "\n"


def render_table(report: CountReport) -> None:
    """A rich table for the terminal; explanations become numbered notes under it."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False, width=max(Console().width, 112))
    for h in _header(report):
        console.print(h, soft_wrap=True)
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("row", "output", "params", "paper", "diff", "ops", "paper", "diff", "note"):
        table.add_column(col, justify="left" if col in ("row", "output") else "right", no_wrap=True)
    footnotes: list[str] = []
    for r in report.rows:
        if not (r.params or r.paper_params):
            table.add_row(r.name, r.output, *[""] * 7, style="dim")
            continue
        mark = ""
        if r.explanation:
            footnotes.append(f"[{len(footnotes) + 1}] {r.name}: {r.explanation}")
            mark = f"[{len(footnotes)}]"
        table.add_row(
            r.name,
            r.output,
            f"{r.params:,}",
            _fig(r.paper_params, "K"),
            _pct(r.params_diff_pct),
            _human(r.ops, "M"),
            _fig(r.paper_ops, "M"),
            _pct(r.ops_diff_pct),
            mark,
            style="yellow" if mark else None,
        )
    for a in report.aux:
        table.add_row(a.name, "", f"{a.params:,}", "", "", _human(a.ops, "M"), "", "", "", style="cyan")
    t = report.total
    table.add_row(
        "total",
        "",
        f"{t['params']:,}",
        _fig(t["paper_params"], "K"),
        "",
        f"{t['ops'] / 1e9:.3f}G",
        _fig(t["paper_ops"], "M"),
        "",
        "",
        style="bold",
    )
    console.print(table)
    for line in footnotes + _totals_lines(report):
        console.print(line, soft_wrap=True)


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


def compare_markdown(cmp: dict[str, Any]) -> str:
    a, b = cmp["labels"]
    lines = [
        f"| row | {a} output | {b} output | {a} params | {b} params | x | {a} ops | {b} ops | x |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in cmp["rows"] + [{"name": "**total**", **cmp["total"]}]:
        lines.append(
            f"| {r['name']} | {r.get(f'{a}_output', '')} | {r.get(f'{b}_output', '')} | {r[f'{a}_params']:,} | "
            f"{r[f'{b}_params']:,} | {r['params_ratio']:.2f} | {_human(r[f'{a}_ops'], 'M')} | "
            f"{_human(r[f'{b}_ops'], 'M')} | {r['ops_ratio']:.2f} |"
        )
    return "\n".join(lines) + "\n"


def compare_summary(cmp: dict[str, Any]) -> str:
    a, b = cmp["labels"]
    t = cmp["total"]
    return (
        f"{b} vs {a}: {t[f'{b}_params']:,} vs {t[f'{a}_params']:,} weights (x{t['params_ratio']:.1f}), "
        f"{t[f'{b}_ops'] / 1e9:.2f}G vs {t[f'{a}_ops'] / 1e9:.2f}G multiply-adds (x{t['ops_ratio']:.1f})"
    )
