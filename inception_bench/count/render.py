"""``ibench count``'s outputs: CSV, JSON, Markdown (through :mod:`inception_bench.document`) and a rich table for
the terminal, for one report and for a naive-vs-reduced comparison. The numbers come from
:mod:`inception_bench.count.table`; this module only formats them."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict
from typing import Any

from rich import box
from rich.table import Table as RichTable

from inception_bench.count.table import CountReport, human
from inception_bench.document import Block, Bullets, Paragraph, Table, markdown_block
from inception_bench.document import to_markdown as markdown_document

UNITS = (
    "params: conv/linear weights without biases or BN (paper convention; K = 1024). "
    "ops: multiply-adds of conv/linear layers (fvcore, 1 MAC = 1 op; M = 10^6). "
    "diff: (ours - paper) / paper."
)
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


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v:+.1f}%"


def _fig(v: int | None, unit: str) -> str:
    """A paper figure as printed (159K, 2.7K, 34M)."""
    if v is None:
        return ""
    return f"{round(v / (1024 if unit == 'K' else 10**6), 1):g}{unit}"


def _flat_rows(report: CountReport) -> list[dict[str, Any]]:
    """Table rows, aux rows and the total as flat dicts."""
    out: list[dict[str, Any]] = [asdict(r) for r in report.rows]
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
    if (ref := t.get("reference")) is not None:  # published totals (every parameter), as totals_lines says them
        out.append({"id": "reference", "name": ref["source"], "type": "reference", "params": ref["params"],
                    "ops": ref["ops"], "explanation": ref["note"]})  # fmt: skip
    return out


def to_csv(report: CountReport) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for r in _flat_rows(report):
        for k in ("params_diff_pct", "ops_diff_pct"):
            if r.get(k) is not None:
                r[k] = f"{r[k]:.2f}"
        writer.writerow(r)
    return buf.getvalue()


def to_json(report: CountReport) -> str:
    return json.dumps(report.to_dict(), indent=2)


def header_lines(report: CountReport) -> list[str]:
    v = report.variant
    lines = [
        f"spec: {report.spec} ({report.spec_name}); module {v['module']}, aux {'on' if v['aux'] else 'off'}, "
        f"stem {v['stem']}, batch norm {'on' if v['batch_norm'] else 'off'}, input {v['input_size']}, "
        f"classes {v['num_classes']}" + (f"; overrides {report.overrides}" if report.overrides else ""),
        f"units: {UNITS}",
    ]
    return lines + [f"note: {n}" for n in report.notes]


def totals_lines(report: CountReport) -> list[str]:
    t = report.total
    paper = (  # a table that prints no figures (BN-Inception's) has no sum
        f" (sum of the paper's rows: {t['paper_params']:,} and {t['paper_ops'] / 1e9:.3f}G)"
        if t["paper_params"]
        else ""
    )
    lines = [
        f"total (inference, as Table 1): {t['params']:,} weights, {t['ops'] / 1e9:.3f}G multiply-adds" + paper,
        f"all parameters (biases and BN included): {t['params_all']:,} without aux heads, "
        f"{t['params_all_with_aux']:,} with them",
    ]
    for a in report.aux:
        lines.append(f"{a.name}: {a.params:,} weights, {human(a.ops, 'M')} multiply-adds (training only)")
    if (ref := t.get("reference")) is not None:  # published totals of a table without per-row figures
        theirs = [f"{ref['params']:,} parameters"] if ref["params"] else []
        theirs += [f"{ref['ops'] / 1e9:g}G multiply-adds"] if ref["ops"] else []
        lines.append(
            f"reference ({ref['source']}): {', '.join(theirs)}; ours {t['params_all']:,} parameters, "
            f"{t['ops'] / 1e9:.3f}G multiply-adds" + (f": {ref['note']}" if ref["note"] else "")
        )
    return lines


def _table_rows(report: CountReport) -> list[tuple[str, list[str], str]]:
    """(kind, the eight figure cells, the note) of every table row; kind is ``dim`` (a row without weights),
    ``row``, ``aux`` (an aux head) or ``total``."""
    out = []
    for r in report.rows:
        if not (r.params or r.paper_params):
            out.append(("dim", [r.name, r.output] + [""] * 6, ""))
            continue
        figures = [f"{r.params:,}", _fig(r.paper_params, "K"), _pct(r.params_diff_pct), human(r.ops, "M")]
        out.append(("row", [r.name, r.output, *figures, _fig(r.paper_ops, "M"), _pct(r.ops_diff_pct)], r.explanation))
    for a in report.aux:
        out.append(("aux", [a.name, "", f"{a.params:,}", "", "", human(a.ops, "M"), "", ""], "training only"))
    t = report.total
    params, ops = f"{t['params']:,}", f"{t['ops'] / 1e9:.3f}G"
    out.append(
        ("total", ["total", "", params, _fig(t["paper_params"], "K"), "", ops, _fig(t["paper_ops"], "M"), ""], "")
    )
    return out


def blocks(report: CountReport) -> list[Block]:
    """The report as document blocks: the header lines, the table (rows, aux heads, total), the totals."""
    rows = []
    for kind, cells, note in _table_rows(report):
        if kind == "total":  # name, params and ops in bold
            cells = [f"**{c}**" if i in (0, 2, 5) else c for i, c in enumerate(cells)]
            note = "aux heads excluded"
        rows.append([*cells, note])
    header = ["row", "output", "params", "paper", "diff", "ops", "paper", "diff", "explanation"]
    return [Bullets(header_lines(report)), Table(header, rows, "llrrrrrrl"), Bullets(totals_lines(report))]


def to_markdown(report: CountReport, command: str | None = None) -> str:
    produced: list[Block] = [Paragraph(f"Produced by `{command}`.")] if command else []
    return markdown_document(f"Parameters and multiply-adds: {report.spec_name}", produced + blocks(report))


_STYLES = {"dim": "dim", "aux": "cyan", "total": "bold"}


def rich_table(report: CountReport) -> tuple[list[str], RichTable, list[str]]:
    """For the terminal: the header lines, a rich table (explanations become numbered notes) and the lines under
    it (the notes, then the totals)."""
    table = RichTable(box=box.SIMPLE_HEAD, pad_edge=False)
    for col in ("row", "output", "params", "paper", "diff", "ops", "paper", "diff", "note"):
        table.add_column(col, justify="left" if col in ("row", "output") else "right", no_wrap=True)
    footnotes: list[str] = []
    for kind, cells, note in _table_rows(report):
        mark = ""
        if kind == "row" and note:
            footnotes.append(f"[{len(footnotes) + 1}] {cells[0]}: {note}")
            mark = f"[{len(footnotes)}]"
        table.add_row(*cells, mark, style=_STYLES.get(kind, "yellow" if mark else None))
    return header_lines(report), table, footnotes + totals_lines(report)


# ------------------------------------------------------------------------------------------- comparison
def compare_markdown(cmp: dict[str, Any], notes: list[str]) -> str:
    """The naive-vs-reduced comparison as the notes, a Markdown table and a one-line summary."""
    a, b = cmp["labels"]
    header = [f"{a} output", f"{b} output", f"{a} params", f"{b} params", "x", f"{a} ops", f"{b} ops", "x"]
    rows = [
        [
            r["name"],
            r.get(f"{a}_output", ""),
            r.get(f"{b}_output", ""),
            f"{r[f'{a}_params']:,}",
            f"{r[f'{b}_params']:,}",
            f"{r['params_ratio']:.2f}",
            human(r[f"{a}_ops"], "M"),
            human(r[f"{b}_ops"], "M"),
            f"{r['ops_ratio']:.2f}",
        ]
        for r in cmp["rows"] + [{"name": "**total**", **cmp["total"]}]
    ]
    t = cmp["total"]
    summary = (
        f"{b} vs {a}: {t[f'{b}_params']:,} vs {t[f'{a}_params']:,} weights (x{t['params_ratio']:.1f}), "
        f"{t[f'{b}_ops'] / 1e9:.2f}G vs {t[f'{a}_ops'] / 1e9:.2f}G multiply-adds (x{t['ops_ratio']:.1f})"
    )
    table = Table(["row", *header], rows, "lllrrrrrr")
    return "".join(f"note: {n}\n" for n in notes) + "\n" + markdown_block(table) + "\n\n" + summary + "\n"


def compare_csv(cmp: dict[str, Any]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, list(cmp["rows"][0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(cmp["rows"] + [{"id": "total", "name": "total", **cmp["total"]}])
    return buf.getvalue()


def compare_json(cmp: dict[str, Any]) -> str:
    return json.dumps(cmp, indent=2) + "\n"
