"""``ibench report``: ablation and run folders as tables, words and plots (Markdown, HTML, CSV).

- :mod:`~inception_bench.report.load`: what is read (through :mod:`inception_bench.store`).
- :mod:`~inception_bench.report.stats`: summaries over seeds, paired or Welch intervals, the paper's questions.
- :mod:`~inception_bench.report.plots`: the figures.
- :func:`build` assembles a :mod:`~inception_bench.document` from them; :func:`write_report` renders it as
  report.md (+ PNGs) and a self-contained report.html from the same data, and writes summary.csv.

MACs and params are Table 1's conventions (``ibench count``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from inception_bench.document import Bullets, Paragraph, Section, Table, to_html, to_markdown
from inception_bench.errors import FieldError, IbenchError
from inception_bench.report import tta
from inception_bench.report.budget import budget_table
from inception_bench.report.load import Study, load_study, not_completed, read_bench_csv
from inception_bench.report.plots import plots
from inception_bench.report.stats import (
    answer_questions,
    multiplicity_note,
    pareto_front,
    sensitivity,
    summarize,
    tuning_note,
    welch,
)
from inception_bench.store import AblationFolder, ReportFolder, find_eval_records

__all__ = ["Report", "build", "pareto_front", "summarize", "welch", "write_report"]

SUMMARY_HEADER = [
    "variant",
    "params",
    "MACs",
    "top-1 err %",
    "top-5 err %",
    "seeds",
    "train img/s (runs' own)",
    "wall s",
    "top-1 err vs baseline [95% CI]",
]


@dataclass
class Report:
    title: str
    sections: list[Section]
    summary: list[dict[str, Any]]  # summarize()'s rows of every study, with the study's name
    answers: list[str]  # the "Answers" section's lines (Markdown emphasis), also for the terminal


def _pm(mean: float, std: float | None) -> str:
    return f"{mean:.2f}" + (f" +- {std:.2f}" if std is not None else "")


def _diff_text(row: dict[str, Any]) -> str:
    if row["baseline"]:
        return "baseline"
    if row["diff_top1_err"] is None:
        return "n/a (needs 2+ seeds)"
    mark = " *" if row["real"] else ""
    how = " paired" if row.get("diff_method") == "paired" else " Welch"
    return f"{row['diff_top1_err']:+.2f} [{row['diff_ci_low']:+.2f}, {row['diff_ci_high']:+.2f}]{how}{mark}"


def summary_table(rows: list[dict[str, Any]], labels: dict[str, str] | None = None) -> Table:
    labels = labels or {}
    cells = [
        [
            labels.get(r["variant"], r["variant"]),
            f"{r['params']:,}",
            f"{r['ops'] / 1e6:.1f}M",
            _pm(r["top1_err"], r["top1_err_std"]),
            _pm(r["top5_err"], r["top5_err_std"]),
            str(r["seeds"]),
            f"{r['images_per_sec']:.0f}",
            f"{r['wall_seconds']:.0f}",
            _diff_text(r),
        ]
        for r in rows
    ]
    return Table(SUMMARY_HEADER, cells)


def _tta_blocks(rows: list[dict[str, Any]], labels: dict[str, str]) -> list[Any]:
    """Time to accuracy beside the accuracy: medians over seeds, MLPerf's olympic mean with 5+ seeds."""

    def cell(value: float | None, fmt: str) -> str:
        if value is None:
            return "-"
        return "not reached" if value == float("inf") else format(value, fmt)

    target = rows[0]["tta_target"]
    cells = [
        [
            labels.get(r["variant"], r["variant"]),
            f"{r['tta_reached']}/{r['tta_runs']}",
            cell(r["tta_epochs"], ".0f"),
            cell(r["tta_images"] / 1e3 if r["tta_images"] is not None else None, ",.0f"),
            cell(r["tta_seconds"], ".0f"),
            cell(r["tta_seconds_olympic"], ".0f"),
            _pm(r["top1_err"], r["top1_err_std"]),
        ]
        for r in rows
    ]
    header = ["variant", "reached", "epochs", "k images", "train s", "train s (MLPerf mean)", "top-1 err %"]
    return [
        Paragraph(
            f"Time to accuracy: when validation top-1 first reached {100 * target:.2f}% "
            f"({rows[0]['tta_target_source']}); medians over seeds of the epoch, the training images seen and the "
            "training seconds (evaluation left out); the MLPerf mean drops the fastest and slowest of 5+ seeds. "
            "The seconds are each run's own, on the machine and beside the load it had: variants compare by "
            "them only when their runs shared both (the README answers' time to target uses the study's bench.csv)."
        ),
        Table(header, cells),
    ]


def add_time_to_accuracy(study: Study, rows: list[dict[str, Any]], target: float | None) -> None:
    """Each summary row gets its variant's time to ``target`` (a validation top-1 fraction; default: the baseline's
    median final one minus a point), see :mod:`~inception_bench.report.tta`."""
    source = "given"
    if target is None:
        target, source = tta.default_target(study), "the baseline's median final validation top-1 minus 1 point"
    if target is None:
        return
    reached = tta.reached_by_variant(study, target)
    for row in rows:
        runs = reached.get(row["variant"])
        if runs:
            row.update(tta_target=target, tta_target_source=source, **tta.summary(runs))


def _study_section(study: Study, rows: list[dict[str, Any]], slug: str, labels: dict[str, str]) -> Section:
    s = Section(study.name)
    desc = study.meta.get("description")
    if desc:
        data, spec = study.meta.get("data", "?"), study.meta.get("spec", "?")
        s.blocks.append(Paragraph(f"{desc}. Data: {data}; base spec {spec}."))
    total, done = len(study.frame), len(study.completed())
    s.blocks.append(
        Paragraph(f"{done} of {total} runs completed." + ("" if done == total else " This is a partial report."))
    )
    if rows:
        where = (
            "the held-out test split (never used to choose anything)"
            if study.split == "test"
            else "the validation split"
        )
        s.blocks.append(
            Paragraph(
                f"Errors are on {where}, mean +- std over seeds; the last column is the top-1 error difference to "
                "the baseline with its 95% interval, marked * when the interval excludes 0: paired over the seeds when "
                "both ran the same seeds (the same data order and initialisation stream), else Welch's."
            )
        )
    notes = not_completed(study)
    if notes:
        s.blocks += [Paragraph("Runs that did not complete (not in the table):"), Bullets(notes)]
    if rows:
        s.blocks.append(summary_table(rows, labels))
        keys = [f"{labels[r['variant']]} = `{r['variant']}`" for r in rows if labels[r["variant"]] != r["variant"]]
        if keys:
            s.blocks.append(Paragraph("Variant keys (results.csv, run folders): " + "; ".join(keys) + "."))
        if (together := multiplicity_note([{**r, "variant": labels[r["variant"]]} for r in rows])) is not None:
            s.blocks.append(Paragraph(together))
    if rows and rows[0].get("tta_target") is not None:
        s.blocks += _tta_blocks(rows, labels)
    tuned = sensitivity(study)
    if tuned is not None:
        s.blocks.append(Paragraph(tuning_note(study)))
        s.blocks.append(Table(*tuned))
    budget = budget_table(study.tuning, labels, bool(study.meta.get("halving")))
    if budget is not None:
        basis, header, cells = budget
        s.blocks.append(
            Paragraph(
                f"Expected best validation top-1 % after n tuning candidates (Dodge et al. 2019), from {basis}: "
                "where the order of two variants changes along a row pair, their ranking depends on the tuning budget."
            )
        )
        s.blocks.append(Table(header, cells))
    s.blocks += plots(study, rows, slug, labels)
    return s


def _answers(study: Study, rows: list[dict[str, Any]], labels: dict[str, str]) -> list[str]:
    """The study's answers to the paper's questions, for the report's first section and the terminal."""
    answers = answer_questions(study)
    if answers:
        return answers
    if not rows:
        return [f"**{study.name}**: no completed runs yet."]
    best = min(rows, key=lambda r: r["top1_err"])
    lowest = f"lowest {study.split} top-1 error: {labels[best['variant']]} ({best['top1_err']:.2f}%)"
    if {"module", "aux.enabled"} & set(study.axes):
        return [f"**{study.name}**: too few completed runs on both sides of a question to compare yet; {lowest}."]
    return [f"**{study.name}**: neither of the paper's questions varies here; {lowest}."]


def _bench_section(path: Path) -> Section:
    """The rows of an ``ibench bench --output`` CSV file."""
    from inception_bench.bench.rows import table_rows

    needed = {  # what every `ibench bench` CSV has had; newer columns are shown when present
        "model",
        "mode",
        "batch_size",
        "images_per_sec",
        "step_ms_median",
        "params",
        "macs",
        "device",
        "precision",
        "channels_last",
        "compile",
        "image_size",
        "torch_version",
        "date",
    }
    rows = read_bench_csv(path, needed)
    settings = sorted({f"{r['device']}, {r['image_size']}px, torch {r['torch_version']}, {r['date']}" for r in rows})
    return Section(
        f"Throughput ({path.parent.name}/{path.name})",
        [
            Paragraph(
                "Measured with `ibench bench`: " + "; ".join(settings) + ". `vs fp32 eager`: images/s over the same "
                "model in fp32, eager, contiguous layout; `vs tv`: over the spec's torchvision twin (googlenet, or "
                "inception_v3 for the inception-v3 spec; in fp32 eager when it was measured so, else in the same "
                "setup); both measured in the same command (since 2026-12 in interleaved rounds, with their range "
                "over rounds in brackets). TMAC/s counts 3x the forward MACs for a training step."
            ),
            Table(*table_rows(rows)),
        ],
    )


def _eval_section(folders: list[Path]) -> Section | None:
    found = [(f, p, r) for f in folders for p, r in find_eval_records(f) if {"top1_error", "top5_error"} <= set(r)]
    if not found:
        return None
    found.sort(key=lambda x: (x[2].get("split", "val"), x[2].get("models", 1), x[2].get("crops", 1), x[1]))
    rows = [
        [
            str(Path(f.name) / p.parent.relative_to(f)),  # the run (or folder) whose record it is
            str(r.get("split", "val")),
            str(r.get("models", 1)),
            str(r.get("crops", 1)),
            str(r.get("cost", 1)),
            f"{100 * r['top1_error']:.2f}",
            f"{100 * r['top5_error']:.2f}",
            str(r.get("images", "")),
        ]
        for f, p, r in found
    ]
    header = ["record of", "split", "models", "crops", "cost", "top-1 err %", "top-5 err %", "images"]
    return Section(
        "Multi-crop and ensemble evaluation (shaped like the paper's Table 3)",
        [
            Paragraph("Cost = models x crops; softmax probabilities averaged over crops and models."),
            Table(header, rows),
        ],
    )


def build(paths: list[Path], target_top1: float | None = None) -> Report:
    """The report of ablation folders, run folders and bench CSV files (in that order of sections: bench files
    first, then each study with its bench.csv, then eval records, then the Table 1 reproduction)."""
    from inception_bench.count import count
    from inception_bench.count.render import blocks
    from inception_bench.spec import load_spec

    for path in paths:
        if not path.is_dir() and not (path.is_file() and path.suffix == ".csv"):
            raise IbenchError(
                f"{path}: not a folder; give `ibench ablate` --out folders, run directories or bench CSV files"
            )
        if path.is_file() and (path.parent / AblationFolder.META).is_file():
            raise IbenchError(f"{path}: an ablation's own file; give its folder ({path.parent}) instead")
    sections = [_bench_section(p) for p in paths if p.is_file()]
    folders = [p for p in paths if p.is_dir()]
    summary: list[dict[str, Any]] = []
    answers: list[str] = []
    slugs: set[str] = set()
    for folder in folders:
        study = load_study(folder)
        slug, n = study.name, 2
        while slug in slugs:  # two studies of one name must not overwrite each other's plots
            slug, n = f"{study.name}-{n}", n + 1
        slugs.add(slug)
        rows = summarize(study)
        add_time_to_accuracy(study, rows, target_top1)
        summary += [{"study": study.name, **r} for r in rows]
        labels = study.labels()
        heading = [f"**{study.name}** ({study.split} split):"] if len(folders) > 1 else []
        answers += heading + _answers(study, rows, labels)
        sections.append(_study_section(study, rows, slug, labels))
        if study.folder.bench_path.exists():
            sections.append(_bench_section(study.folder.bench_path))
    evals = _eval_section(folders)
    if evals is not None:
        sections.append(evals)
    sections.append(Section("Table 1 reproduction (`ibench count`)", blocks(count(load_spec()))))
    if answers:
        sections.insert(0, Section("Answers", [Paragraph(a) for a in answers]))
    return Report("inception-bench report: " + ", ".join(p.name for p in paths), sections, summary, answers)


def write_report(paths: list[Path], out: Path, target_top1: float | None = None) -> Report:
    """Build the report of ``paths`` into ``out``: report.md (+ PNGs), report.html, summary.csv. ``target_top1``:
    the validation top-1 fraction runs are timed to (default: per study, see :func:`add_time_to_accuracy`)."""
    import pandas as pd

    if out.exists() and not out.is_dir():
        raise FieldError("out", "is a file; give a folder for the report", out)
    report = build([Path(p) for p in paths], target_top1)
    ReportFolder(out).write(
        to_markdown(report.title, [], report.sections),
        to_html(report.title, [], report.sections),
        pd.DataFrame(report.summary).to_csv(index=False),
        {image.name: image.png for section in report.sections for image in section.images},
    )
    return report
