"""``ibench report``: ablation and run directories as tables, words and plots (Markdown, HTML, CSV).

Conventions: errors are ``1 - accuracy`` in percent; "mean +- std" is over seeds (sample std, n-1); the
difference to the baseline variant is the difference of mean top-1 errors with a 95% Welch t-interval, and
is called real when that interval excludes 0. MACs and params are Table 1's conventions (``ibench count``).
The HTML page is one self-contained file: images are embedded as base64 PNG and tables sort on a click with
a few lines of inline JavaScript; it loads nothing from the network.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inception_bench.errors import IbenchError
from inception_bench.results import FINAL, atomic_write_bytes, atomic_write_text, read_json, read_results_csv


@dataclass
class Section:
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[tuple[list[str], list[list[Any]]]] = field(default_factory=list)  # (header, rows)
    images: list[tuple[str, bytes]] = field(default_factory=list)  # (file name, PNG)
    raw_markdown: str = ""


# ------------------------------------------------------------------------------------------------ loading
@dataclass
class Study:
    """One ablation (or a loose set of runs): its results frame and metadata."""

    name: str
    folder: Path
    frame: Any  # pandas.DataFrame, one row per run
    meta: dict[str, Any]


def _load_study(folder: Path) -> Study:
    import pandas as pd

    if (folder / "results.csv").exists():
        frame = _usable(read_results_csv(folder / "results.csv"))
        meta = read_json(folder / "ablation.json") if (folder / "ablation.json").exists() else {}
        return Study(meta.get("name", folder.name), folder, frame, meta)
    finals = sorted(folder.glob(FINAL)) + sorted(folder.glob(f"*/{FINAL}")) + sorted(folder.glob(f"*/*/{FINAL}"))
    if not finals:
        raise IbenchError(
            f"{folder}: no results.csv and no run directory (final.json) inside; give an `ibench ablate` --out "
            "folder or an `ibench train` run directory"
        )
    rows = []
    for final in finals:
        rec = read_json(final)
        run_dir = final.parent
        # DIR/<variant>/seed-<s>/ (the ablate layout) or DIR/<run>/
        variant = run_dir.parent.name if re.fullmatch(r"seed-\d+", run_dir.name) else run_dir.name
        rows.append({"variant": variant, "seed": 0, **rec, "run_dir": str(run_dir)})
        config = run_dir / "config.json"
        if config.exists():
            cfg = read_json(config)
            rows[-1]["seed"] = cfg.get("recipe", {}).get("seed", 0)
    return Study(folder.name, folder, _usable(pd.DataFrame(rows)), {})


def _usable(frame: Any) -> Any:
    """Every results column present; a 'completed' row without its metrics is marked as such, not averaged."""
    from inception_bench.results import RESULT_COLUMNS

    frame = frame.reindex(columns=list(dict.fromkeys(RESULT_COLUMNS + list(frame.columns))))
    frame["error"] = frame["error"].astype(object)
    broken = (frame["status"] == "completed") & frame[["val_top1", "val_top5", "params", "ops"]].isna().any(axis=1)
    frame.loc[broken, "status"] = "incomplete-record"
    frame.loc[broken, "error"] = "the run record lacks val_top1/val_top5/params/ops"
    return frame


# ------------------------------------------------------------------------------------------------ numbers
def _t95(dof: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(0.975, dof))


def _welch(a: list[float], b: list[float]) -> tuple[float, float, float] | None:
    """Difference of means (a - b) and its 95% Welch interval; None with fewer than 2 values in either."""
    import numpy as np

    if len(a) < 2 or len(b) < 2:
        return None
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    diff = float(np.mean(a) - np.mean(b))
    se = math.sqrt(va + vb)
    if se == 0:
        return diff, diff, diff
    dof = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = _t95(dof) * se
    return diff, diff - half, diff + half


def summarize(study: Study) -> list[dict[str, Any]]:
    """One row per variant: params, MACs, errors as mean +- std over seeds, speed, difference to baseline."""
    frame = study.frame
    done = frame[frame["status"] == "completed"]
    variants = list(dict.fromkeys(study.meta.get("variants") or list(frame["variant"])))
    baseline = study.meta.get("baseline") or (variants[0] if variants else None)
    base_err = [100 * (1 - v) for v in done[done["variant"] == baseline]["val_top1"]]
    rows = []
    for variant in variants:
        mine = done[done["variant"] == variant]
        if mine.empty:
            continue
        e1 = [100 * (1 - v) for v in mine["val_top1"]]
        e5 = [100 * (1 - v) for v in mine["val_top5"]]
        diff = _welch(e1, base_err) if variant != baseline else None
        rows.append(
            {
                "variant": variant,
                "baseline": variant == baseline,
                "seeds": len(mine),
                "params": int(mine["params"].iloc[0]),
                "ops": int(mine["ops"].iloc[0]),
                "top1_err": float(sum(e1) / len(e1)),
                "top1_err_std": _std(e1),
                "top5_err": float(sum(e5) / len(e5)),
                "top5_err_std": _std(e5),
                "images_per_sec": float(mine["train_images_per_sec"].mean()),
                "wall_seconds": float(mine["wall_seconds"].mean()),
                "diff_top1_err": diff[0] if diff else None,
                "diff_ci_low": diff[1] if diff else None,
                "diff_ci_high": diff[2] if diff else None,
                "real": (diff[1] > 0 or diff[2] < 0) if diff else None,
            }
        )
    return rows


def _std(values: list[float]) -> float | None:
    import numpy as np

    return float(np.std(values, ddof=1)) if len(values) > 1 else None


def _pm(mean: float, std: float | None) -> str:
    return f"{mean:.2f}" + (f" +- {std:.2f}" if std is not None else "")


def _diff_text(row: dict[str, Any]) -> str:
    if row["baseline"]:
        return "baseline"
    if row["diff_top1_err"] is None:
        return "n/a (needs 2+ seeds)"
    mark = " *" if row["real"] else ""
    return f"{row['diff_top1_err']:+.2f} [{row['diff_ci_low']:+.2f}, {row['diff_ci_high']:+.2f}]{mark}"


SUMMARY_HEADER = [
    "variant", "params", "MACs", "top-1 err %", "top-5 err %", "seeds", "train img/s", "wall s",
    "top-1 err vs baseline [95% CI]",
]  # fmt: skip


def summary_table(rows: list[dict[str, Any]]) -> list[list[Any]]:
    return [
        [
            r["variant"], f"{r['params']:,}", f"{r['ops'] / 1e6:.1f}M", _pm(r["top1_err"], r["top1_err_std"]),
            _pm(r["top5_err"], r["top5_err_std"]), r["seeds"], f"{r['images_per_sec']:.0f}",
            f"{r['wall_seconds']:.0f}", _diff_text(r),
        ]
        for r in rows
    ]  # fmt: skip


# ------------------------------------------------------------------------------------------ the questions
def _runs(study: Study, where: dict[str, Any]) -> list[Any]:
    """Completed runs whose axis columns equal ``where`` (compared as lower-case text)."""
    frame = study.frame
    mask = frame["status"] == "completed"
    for column, value in where.items():
        if column not in frame.columns:
            return []
        mask &= frame[column].astype(str).str.lower() == str(value).lower()
    return list(frame[mask].itertuples())


def _compare_text(a_runs: list[Any], b_runs: list[Any], labels: tuple[str, str]) -> str:
    err_a = [100 * (1 - r.val_top1) for r in a_runs]
    err_b = [100 * (1 - r.val_top1) for r in b_runs]
    ma, mb = sum(err_a) / len(err_a), sum(err_b) / len(err_b)
    text = f"top-1 error {ma:.2f}% {labels[0]} vs {mb:.2f}% {labels[1]} ({len(err_a)} vs {len(err_b)} runs)"
    diff = _welch(err_a, err_b)
    if diff is None:
        return text + ", too few runs for a confidence interval"
    verdict = "a real difference" if diff[1] > 0 or diff[2] < 0 else "not distinguishable from noise"
    return text + f", difference {diff[0]:+.2f} points, 95% CI [{diff[1]:+.2f}, {diff[2]:+.2f}]: {verdict}"


def answer_questions(study: Study) -> list[str]:
    """The paper's two questions in words, from the numbers, where the study varies that axis. Each comparison
    holds the other axes fixed (one clause per combination of them)."""
    out = []
    known = study.meta.get("axes") or ["module", "aux.enabled"]
    axes = [a for a in known if a in study.frame.columns]
    for column, a, b, what, labels in [
        ("module", "reduced", "naive", "the 1x1 dimension reductions (reduced vs naive modules)", ("reduced", "naive")),
        ("aux.enabled", True, False, "the auxiliary classifiers (on vs off)", ("with", "without")),
    ]:
        if column not in axes:
            continue
        others = [x for x in axes if x != column]
        combos = study.frame[others].astype(str).drop_duplicates().to_dict("records") if others else [{}]
        clauses = []
        for combo in combos:
            ra, rb = _runs(study, {column: a, **combo}), _runs(study, {column: b, **combo})
            if ra and rb:
                where = ", ".join(f"{k}={v}" for k, v in combo.items())
                clauses.append((f"with {where}: " if where else "") + _compare_text(ra, rb, labels))
        if not clauses:
            continue
        text = f"**{what.capitalize()}**: "
        if column == "module":
            ra, rb = _runs(study, {column: a}), _runs(study, {column: b})
            text += (
                f"the reductions cut multiply-adds {rb[0].ops / ra[0].ops:.1f}x ({rb[0].ops / 1e6:.1f}M -> "
                f"{ra[0].ops / 1e6:.1f}M) and parameters {rb[0].params / ra[0].params:.1f}x ({rb[0].params:,} -> "
                f"{ra[0].params:,}); "
            )
        out.append(text + "; ".join(clauses) + ".")
    return out


# ------------------------------------------------------------------------------------------------- plots
def _png(fig: Any) -> bytes:
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buf.getvalue()


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both cost (x) and error (y), lower being better."""
    front = []
    for i, (x, y) in enumerate(points):
        if not any((x2 <= x and y2 <= y) and (x2 < x or y2 < y) for j, (x2, y2) in enumerate(points) if j != i):
            front.append(i)
    return sorted(front, key=lambda i: points[i][0])


def plots(study: Study, rows: list[dict[str, Any]], slug: str) -> list[tuple[str, bytes]]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    images = []
    for key, label, fname in [
        ("ops", "multiply-adds (M)", "error-vs-macs"),
        ("params", "parameters (M)", "error-vs-params"),
    ]:
        if not rows:
            break
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        pts = [(r[key] / 1e6, r["top1_err"]) for r in rows]
        ax.errorbar(
            [p[0] for p in pts], [p[1] for p in pts], yerr=[r["top1_err_std"] or 0 for r in rows], fmt="o", capsize=3
        )
        for (x, y), r in zip(pts, rows, strict=True):
            ax.annotate(r["variant"], (x, y), fontsize=7, xytext=(4, 3), textcoords="offset points")
        if key == "ops":
            front = pareto_front(pts)
            ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "--", color="tab:red", label="Pareto front")
            ax.legend()
        ax.set_xscale("log")
        ax.set_xlabel(label + " (log)")
        ax.set_ylabel("top-1 error % (mean +- std over seeds)")
        ax.set_title(f"{slug}: error vs {label.split(' ')[0]}")
        images.append((f"{slug}-{fname}.png", _png(fig)))
    curves = _curves(study)
    if curves:
        import numpy as np

        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for variant, runs in curves.items():
            n = min(len(r) for r in runs)
            arr = np.array([r[:n] for r in runs]) * 100
            mean, std = arr.mean(0), (arr.std(0, ddof=1) if len(arr) > 1 else np.zeros(n))
            x = np.arange(1, n + 1)
            ax.plot(x, mean, label=variant)
            ax.fill_between(x, mean - std, mean + std, alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation top-1 error % (band: +- std over seeds)")
        ax.set_title(f"{slug}: validation curves")
        ax.legend(fontsize=7)
        images.append((f"{slug}-curves.png", _png(fig)))
    if rows:
        fig, ax = plt.subplots(figsize=(6.4, 0.5 + 0.35 * len(rows)))
        ax.barh([r["variant"] for r in rows], [r["images_per_sec"] for r in rows], color="tab:green")
        ax.set_xlabel("training images/s")
        ax.invert_yaxis()
        ax.set_title(f"{slug}: training throughput")
        images.append((f"{slug}-throughput.png", _png(fig)))
    return images


def _curves(study: Study) -> dict[str, list[list[float]]]:
    curves: dict[str, list[list[float]]] = {}
    frame = study.frame
    if "run_dir" not in frame.columns:
        return curves
    for r in frame[frame["status"] == "completed"].itertuples():
        path = Path(str(r.run_dir)) / "metrics.jsonl"
        if not path.is_absolute() and not path.exists():
            path = study.folder / str(r.variant) / f"seed-{r.seed}" / "metrics.jsonl"
        try:
            lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        except (OSError, ValueError):
            continue
        curves.setdefault(str(r.variant), []).append([1 - m["val_top1"] for m in lines])
    return curves


# ----------------------------------------------------------------------------------------- the sections
def _status_sections(study: Study) -> list[str]:
    frame = study.frame
    notes = []
    bad = frame[~frame["status"].isin(["completed"])]
    for r in bad.itertuples():
        err = getattr(r, "error", None)
        err = "" if err is None or (isinstance(err, float) and math.isnan(err)) else f": {err}"
        notes.append(f"- {r.variant} seed {r.seed}: **{r.status}**{err}")
    seeds = study.meta.get("seeds")
    if seeds and study.meta.get("variants"):
        have = {(str(v), int(s)) for v, s in zip(frame["variant"], frame["seed"], strict=True)}
        missing = [f"{v} seed {s}" for v in study.meta["variants"] for s in seeds if (v, int(s)) not in have]
        if missing:
            notes.append(f"- missing from results.csv: {', '.join(missing)}")
    return notes


def _eval_table(folders: list[Path]) -> tuple[list[str], list[list[Any]]] | None:
    records = []
    for folder in folders:
        for path in sorted(folder.rglob("eval-*.json")):
            try:
                record = read_json(path)
            except IbenchError:
                continue
            if {"top1_error", "top5_error"} <= set(record):
                records.append(record)
    if not records:
        return None
    records.sort(key=lambda r: (r.get("models", 1), r.get("crops", 1)))
    rows = [
        [r.get("models", 1), r.get("crops", 1), r.get("cost", 1), f"{100 * r['top1_error']:.2f}",
         f"{100 * r['top5_error']:.2f}", r.get("images", "")]
        for r in records
    ]  # fmt: skip
    return ["models", "crops", "cost", "top-1 err %", "top-5 err %", "images"], rows


def _bench_section(path: Path) -> Section:
    """The rows of an ``ibench bench --output`` CSV file."""
    import pandas as pd

    from inception_bench.bench import COLUMNS, table_rows

    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError) as e:
        raise IbenchError(f"{path}: corrupt benchmark file ({' '.join(str(e).split())[:120]})") from None
    keys = [k for k, _ in COLUMNS if k != "setup"]
    needed = set(keys) | {"device", "precision", "channels_last", "compile", "image_size", "torch_version", "date"}
    if not needed <= set(frame.columns):
        missing = ", ".join(sorted(needed - set(frame.columns)))
        raise IbenchError(f"{path}: not an `ibench bench --output` CSV (missing columns {missing})")
    frame = frame.astype(object).where(frame.notna(), None)
    rows = table_rows(frame.to_dict("records"))
    settings = sorted(
        {f"{r['device']}, {r['image_size']}px, torch {r['torch_version']}, {r['date']}"
         for r in frame.to_dict("records")}
    )  # fmt: skip
    return Section(
        f"Throughput ({path.parent.name}/{path.name})",
        ["Measured with `ibench bench`: " + "; ".join(settings) + ". `vs tv`: images/s over torchvision's "
         "googlenet in the same run. TMAC/s counts 3x the forward MACs for a training step."],
        [([label for _, label in COLUMNS], rows)],
    )  # fmt: skip


def build_sections(folders: list[Path]) -> tuple[list[Section], list[dict[str, Any]]]:
    from inception_bench.count import count, to_markdown
    from inception_bench.spec import load_spec

    sections: list[Section] = []
    summary_rows: list[dict[str, Any]] = []
    for path in [f for f in folders if f.is_file()]:
        sections.append(_bench_section(path))
    folders = [f for f in folders if not f.is_file()]
    slugs: set[str] = set()
    for folder in folders:
        study = _load_study(folder)
        slug, n = study.name, 2
        while slug in slugs:  # two studies of one name must not overwrite each other's plots
            slug, n = f"{study.name}-{n}", n + 1
        slugs.add(slug)
        rows = summarize(study)
        for r in rows:
            summary_rows.append({"study": study.name, **r})
        s = Section(f"{study.name}")
        desc = study.meta.get("description")
        if desc:
            s.paragraphs.append(
                f"{desc}. Data: {study.meta.get('data', '?')}; base spec {study.meta.get('spec', '?')}."
            )
        total, done = len(study.frame), int((study.frame["status"] == "completed").sum())
        s.paragraphs.append(
            f"{done} of {total} runs completed." + ("" if done == total else " This is a partial report.")
        )
        s.paragraphs += answer_questions(study)
        if rows:
            s.tables.append((SUMMARY_HEADER, summary_table(rows)))
            s.paragraphs.append(
                "Errors are mean +- std over seeds; the last column is the top-1 error difference to the baseline "
                "with its 95% Welch interval, marked * when the interval excludes 0."
            )
        notes = _status_sections(study)
        if notes:
            s.paragraphs.append("Runs that did not complete (not in the table):\n" + "\n".join(notes))
        s.images = plots(study, rows, slug)
        sections.append(s)
        if (folder / "bench.csv").exists():
            sections.append(_bench_section(folder / "bench.csv"))
    table3 = _eval_table(folders)
    if table3:
        sections.append(
            Section(
                "Multi-crop and ensemble evaluation (shaped like the paper's Table 3)",
                ["Cost = models x crops; softmax probabilities averaged over crops and models."],
                [table3],
            )
        )
    report = count(load_spec())
    sections.append(
        Section(
            "Table 1 reproduction (`ibench count`)",
            raw_markdown=to_markdown(report).split("\n", 2)[2],
        )
    )
    return sections, summary_rows


# ----------------------------------------------------------------------------------------------- output
def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(sections: list[Section], title: str) -> str:
    out = [f"# {title}", ""]
    for s in sections:
        out += [f"## {s.title}", ""]
        for p in s.paragraphs:
            out += [p, ""]
        for header, rows in s.tables:
            out += [_md_table(header, rows), ""]
        for name, _ in s.images:
            out += [f"![{name}]({name})", ""]
        if s.raw_markdown:
            out += [s.raw_markdown, ""]
    return "\n".join(out)


_CSS = """body{font-family:system-ui,sans-serif;max-width:1100px;margin:1.5em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0;font-size:.88em;display:block;overflow-x:auto}
th,td{border:1px solid #ccc;padding:.3em .6em;text-align:right}th{background:#f2f2f2;cursor:pointer}
td:first-child,th:first-child,td.t{text-align:left}img{max-width:100%;height:auto}code{background:#f4f4f4}
.imgs{display:flex;flex-wrap:wrap;gap:1em}.imgs img{max-width:520px}"""
_JS = """document.querySelectorAll('table.sortable th').forEach(function(th,i){th.addEventListener('click',function(){
var t=th.closest('table'),b=t.tBodies[0],r=Array.from(b.rows),d=th.dataset.dir==='a'?-1:1;th.dataset.dir=d>0?'a':'d';
function v(x){var s=x.cells[i].textContent.replace(/[,%*KMG]|\u00b1.*$|\\s\\[.*$/g,'').trim();
var n=parseFloat(s);return isNaN(n)?s:n}
r.sort(function(x,y){var a=v(x),c=v(y);return (a>c?1:a<c?-1:0)*d});r.forEach(function(x){b.appendChild(x)})})});"""


def _inline(text: str) -> str:
    text = html.escape(text)
    text = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", text)
    return re.sub(r"`(.+?)`", r"<code>\1</code>", text)


def _cell(value: Any) -> str:
    text = str(value)
    numeric = re.match(r"^[-+]?[\d.,]+[%KMG]?( \+- [\d.]+)?$|^[-+][\d.]+ \[", text) is not None
    style = "" if numeric or not text else " class='t'"
    return f"<td{style}>{_inline(text).replace(' +- ', ' &plusmn; ')}</td>"


def _html_table(header: list[str], rows: list[list[Any]]) -> str:
    head = "".join(f"<th>{_inline(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _md_block_to_html(md: str) -> str:
    """The small Markdown subset the count report uses: tables, bullet lists and paragraphs."""
    out, lines, i = [], md.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("|"):
            block = []
            while i < len(lines) and lines[i].startswith("|"):
                block.append([c.strip() for c in lines[i].strip("|").split("|")])
                i += 1
            out.append(_html_table(block[0], block[2:]))
            continue
        if line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
            continue
        if line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


def to_html(sections: list[Section], title: str) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width, initial-scale=1'>",
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(title)}</h1>",
    ]
    for s in sections:
        parts.append(f"<h2>{_inline(s.title)}</h2>")
        for p in s.paragraphs:
            parts.append(_md_block_to_html(p))
        for header, rows in s.tables:
            parts.append(_html_table(header, rows))
        if s.images:
            imgs = "".join(
                f"<img alt='{html.escape(n)}' src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
                for n, png in s.images
            )
            parts.append(f"<div class='imgs'>{imgs}</div>")
        if s.raw_markdown:
            parts.append(_md_block_to_html(s.raw_markdown))
    parts.append(f"<script>{_JS}</script></body></html>")
    return "\n".join(parts)


def write_report(folders: list[Path], out: Path) -> dict[str, Any]:
    """Build the report of ``folders`` into ``out``: report.md (+ PNGs), report.html, summary.csv."""
    import pandas as pd

    for folder in folders:
        if not Path(folder).is_dir() and not (Path(folder).is_file() and str(folder).endswith(".csv")):
            raise IbenchError(
                f"{folder}: not a folder; give `ibench ablate` --out folders, run directories or bench CSV files"
            )
    sections, summary_rows = build_sections([Path(f) for f in folders])
    title = "inception-bench report: " + ", ".join(Path(f).name for f in folders)
    out.mkdir(parents=True, exist_ok=True)
    for s in sections:
        for name, png in s.images:
            atomic_write_bytes(out / name, png)
    atomic_write_text(out / "report.md", to_markdown(sections, title))
    atomic_write_text(out / "report.html", to_html(sections, title))
    atomic_write_text(out / "summary.csv", pd.DataFrame(summary_rows).to_csv(index=False))
    return {"out": str(out), "sections": len(sections), "variants": len(summary_rows)}
