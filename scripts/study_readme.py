"""Write a committed study's README.md (issue 26): what it asks, its scale (the ablation file's own words), the
command that regenerates it, how far it has run, the CPU time its runs took (from the run records themselves), and
its results per variant (from ``report/summary.csv``, which ``ibench report`` writes first).

    python scripts/study_readme.py results/studies/paper

CPU time: each run's training, evaluation and test seconds (``final.json``'s ``wall_seconds``, or the epochs so far
of a run still going) times its torch threads, summed over the main runs and the tuning runs (a tuned variant's
first seed is a copy of its chosen tuning run and is counted once; a run copied from another study, ``ibench ablate
--reuse``, is counted in the study that trained it). A record's date: the day git first committed it
(a clone's files all carry the clone's time), else, not committed yet, its file's modification time.
Named by: results/studies/*/README.md (run by scripts/run_studies.sh).
"""

from __future__ import annotations

import datetime
import json
import math
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pandas as pd
from scipy import stats

from inception_bench.errors import IbenchError
from inception_bench.report.load import bench_speeds, load_study
from inception_bench.report.stats import multiplicity_note
from inception_bench.store import RunFolder, atomic_write_text


def _threads(record: dict) -> int:
    found = re.search(r"(\d+) threads?\)", str(record.get("device", "")))
    return int(found.group(1)) if found else 1


def committed_dates(study: Path) -> dict[Path, str]:
    """Each committed file under the study, unchanged since, and the day (UTC, ISO) git first committed it under
    its present name; empty outside git."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-c", "core.quotePath=false", *args], cwd=study, capture_output=True, text=True, check=True,
            env={**os.environ, "TZ": "UTC"},
        ).stdout  # fmt: skip

    try:
        log = git("log", "--reverse", "--date=format-local:%Y-%m-%d", "--format=@%ad", "--name-only", "--", ".")
        top = Path(git("rev-parse", "--show-toplevel").strip())
        changed = {(top / line).resolve() for line in git("diff", "--name-only", "HEAD", "--", ".").splitlines()}
    except (OSError, subprocess.CalledProcessError):
        return {}
    dates: dict[Path, str] = {}
    day = ""
    for line in log.splitlines():
        if line.startswith("@"):
            day = line[1:]
        elif line.strip():
            dates.setdefault((top / line).resolve(), day)
    return {path: day for path, day in dates.items() if path not in changed}  # a rewritten record: its file's time


def comment_blocks(text: str) -> list[str]:
    """The ablation file's ``# `` comment lines, each block of them (lines between lines of YAML) its own paragraph
    (an empty line between blocks)."""
    lines: list[str] = []
    for line in text.splitlines():
        if line.startswith("# "):
            lines.append(line[2:])
        elif lines and lines[-1]:
            lines.append("")
    return lines[:-1] if lines and not lines[-1] else lines


def run_seconds(folder: Path) -> tuple[float, bool, dict]:
    """(CPU seconds so far, finished, the record or an empty dict) of one run folder."""
    final = folder / "final.json"
    if final.exists():
        record = json.loads(final.read_text())
        return float(record.get("wall_seconds") or 0.0) * _threads(record), True, record
    metrics = folder / "metrics.jsonl"
    if not metrics.exists():
        return 0.0, False, {}
    rows = [json.loads(line) for line in metrics.read_text().splitlines() if line.strip()]
    return sum(float(r.get("seconds") or 0.0) for r in rows), False, {}


def _precision(folder: Path) -> str | None:
    """The precision a run trained at, as its config.json records it resolved on its machine (None: not recorded
    or unreadable)."""
    try:
        precision = RunFolder(folder).read_config().get("precision")
    except IbenchError:
        return None
    return str(precision) if precision else None


def precision_note(trained: dict[str, dict[str, list[int]]]) -> list[str]:
    """Markdown lines when the finished runs of the study trained at more than one precision (``precision: auto``
    resolves per machine: bf16 autocast where the CPU has native bf16, fp32 elsewhere): each variant's seeds at
    each; no lines when they all trained at one."""
    if len({p for seeds in trained.values() for p in seeds}) < 2:
        return []

    def _seeds(seeds: list[int]) -> str:
        return ("seed " if len(seeds) == 1 else "seeds ") + ", ".join(map(str, sorted(seeds)))

    per_variant = "; ".join(
        f"`{variant}` " + ", ".join(f"{p} ({_seeds(s)})" for p, s in sorted(seeds.items()))
        for variant, seeds in sorted(trained.items())
    )
    return [
        f"**Precision (the runs differ):** {per_variant}. The study's `precision: auto` trains in bf16 autocast "
        "on CPUs with native bf16 and in fp32 on others, and its runs went to more than one machine. A seed's data "
        "order and initialisation are the same at either precision. Whether bf16 autocast moves accuracy at this "
        "scale: results/studies/precision-check (the studies' baseline both ways, paired over 3 seeds; on the digits, "
        "results/precision-cpu-2026-12-01, full width, cosine schedule: bf16 - fp32 +0.28 [-0.39, +0.94] points of "
        "error, 6 seeds, Welch's); until it has an answer, a difference between variants trained at different "
        "precisions may carry one too.",
        "",
    ]


def record_date(final: Path, committed: dict[Path, str]) -> str:
    return (
        committed.get(final.resolve())
        or datetime.datetime.fromtimestamp(final.stat().st_mtime, datetime.UTC).date().isoformat()
    )


def _pct(value: object, digits: int = 2) -> str:
    return "-" if pd.isna(value) else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _speed(bench: dict[str, float], variant: str, own: object) -> str:
    """A variant's images/s: the bench's where the study has one (saying so when the bench lacks it), else its own."""
    if not bench:
        return _pct(own, 0)
    return _pct(bench[variant], 0) if variant in bench else "not in bench.csv"


def results_table(study: Path, results: pd.DataFrame) -> list[str]:
    """Markdown lines: per variant, its completed seeds, the learning rate it was tuned to, test top-1 error (mean
    and sample std over seeds), the difference from the baseline with its 95% interval and how it was computed
    (paired over seeds or Welch's), weights, multiply-adds and training images/s, all from the report's
    summary.csv; a line saying so when there is no report yet."""
    summary_path = study / "report" / "summary.csv"
    summary = pd.read_csv(summary_path) if summary_path.exists() and summary_path.read_text().strip() else None
    if summary is None or summary.empty:
        return ["No completed run yet (`ibench report` writes report/summary.csv, one row per variant that has one)."]
    loaded = load_study(study)
    speeds = bench_speeds(loaded)  # interleaved, at one thread, else the runs' own (compare loads too)
    source = "bench.csv" if speeds else "the runs' own"
    tuned = [c for c in results.columns if c.startswith("tuned:")]
    lines = [
        "| variant | seeds | " + "".join(f"{c[6:]} | " for c in tuned) + f"{loaded.split} top-1 error % (mean ± sd) | "
        f"vs baseline, points [95% CI] | weights | MACs/image | train images/s ({source}) |",
        "|---|---|" + "---|" * len(tuned) + "---|---|---|---|---|",
    ]
    for row in summary.itertuples():
        ran = results[(results["variant"] == row.variant) & (results["status"] == "completed")]
        values = "".join(f"{', '.join(map(str, sorted(set(ran[c].dropna()))))} | " for c in tuned)
        if bool(row.baseline):
            versus = "baseline"
        elif pd.isna(row.diff_top1_err):
            versus = "-"
        else:
            ci = f" [{_pct(row.diff_ci_low)}, {_pct(row.diff_ci_high)}]" if not pd.isna(row.diff_ci_low) else ""
            versus = f"{float(row.diff_top1_err):+.2f}{ci} ({row.diff_method})"
        spread = "" if pd.isna(row.top1_err_std) else f" ± {_pct(row.top1_err_std)}"
        lines.append(
            f"| {row.variant} | {int(row.seeds)} | {values}{_pct(row.top1_err)}{spread} | "
            f"{versus} | {int(row.params):,} | {float(row.ops) / 1e6:.1f}M | "
            f"{_speed(speeds, str(row.variant), row.images_per_sec)} |"
        )
    base = summary[summary["baseline"].astype(bool)]
    if not base.empty:
        score, n, sd = 100 - float(base["top1_err"].iloc[0]), int(base["seeds"].iloc[0]), base["top1_err_std"].iloc[0]
        over = "1 seed" if n == 1 else f"mean of {n} seeds"
        if n > 1 and not pd.isna(sd):  # the mean's t-interval over seeds: is a level like 92% met, or only touched?
            half = float(stats.t.ppf(0.975, n - 1)) * float(sd) / math.sqrt(n)
            over += f", 95% CI [{score - half:.2f}, {score + half:.2f}]"
        lines += ["", f"The baseline scores {score:.2f}% {loaded.split} top-1 ({over})."]
    if "q" in summary.columns:  # the comparisons taken together (a report of older code has no q column)
        rows = [{**r, "q": None if pd.isna(r["q"]) else r["q"]} for r in summary.to_dict("records")]
        if (together := multiplicity_note(rows)) is not None:
            lines += ["", together]
    lines += [
        "",
        "A positive difference: the variant errs more than the baseline. The full report, with learning curves, "
        "time to accuracy and the tuning table: [report/report.md](report/report.md).",
    ]
    return lines


def main() -> None:
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "results.csv").exists():
        sys.exit("error: give a study folder that ibench ablate wrote (with results.csv), e.g. results/studies/paper")
    study = Path(sys.argv[1])
    meta = json.loads((study / "ablation.json").read_text())
    results = pd.read_csv(study / "results.csv")
    source = Path(meta.get("file") or f"specs/ablations/{meta['name']}.yaml")
    header = comment_blocks(source.read_text()) if source.exists() else []
    shown = f"results/studies/{meta['name']}"  # where the command below writes it, wherever this copy lies
    tuned = {p.name for p in (study / "tune").iterdir()} if (study / "tune").is_dir() else set()
    seconds, dates, cpus, finished, total, copied = 0.0, [], Counter[str](), 0, 0, Counter[str]()
    trained: dict[str, dict[str, list[int]]] = {}  # main runs: variant -> precision -> seeds
    committed = committed_dates(study)
    folders = [p.parent for p in study.glob("*/seed-*/config.json")] + [
        p.parent for p in study.glob("tune/*/*/config.json")
    ]
    for folder in folders:
        main_run = folder.parent.parent == study  # <variant>/seed-<n>, not tune/<variant>/<candidate>
        if main_run and (folder / "final.json").exists() and (precision := _precision(folder)) is not None:
            seeds = trained.setdefault(folder.parent.name, {}).setdefault(precision, [])
            seeds.append(int(folder.name.removeprefix("seed-")))
        if folder.name == "seed-0" and folder.parent.name in tuned:
            continue  # the chosen tuning run's copy: its time and machine are the tuning run's
        spent, done, record = run_seconds(folder)
        if (origin := RunFolder(folder).read_origin()) is not None:  # trained by another study: counted there
            copied[str(origin.get("ablation"))] += 1
        else:
            seconds += spent
        total += 1
        finished += done
        if done:
            dates.append(record_date(folder / "final.json", committed))
            cpu = re.sub(r", \d+ threads?\)", ")", str(record.get("device", "unknown")))
            cpus[cpu if (precision := _precision(folder)) is None else f"{cpu}, {precision}"] += 1
    completed = int((results["status"] == "completed").sum())
    dates.sort()
    machines = "; ".join(f"{cpu}: {n}" for cpu, n in cpus.most_common()) or "none finished yet"
    span = "none finished yet" if not dates else dates[0] if dates[0] == dates[-1] else f"{dates[0]} to {dates[-1]}"
    state = "complete" if completed == len(results) else f"running: {completed} of {len(results)} runs completed"
    lines = [
        f"# Study `{meta['name']}`: {meta.get('description', '')}",
        "",
        f"**State:** {state} ({finished} of {total} run folders, tuning runs included, finished; "
        f"records dated {span}).",
        "",
        f"**CPU time{'' if completed == len(results) else ' so far'}:** {seconds / 3600:.1f} core-hours (the runs' "
        "own seconds times their torch threads)"
        + (
            f"; {sum(copied.values())} run folders are copies of the same runs finished by "
            + ", ".join(f"`{name}` ({n})" for name, n in sorted(copied.items()))
            + " (`ibench ablate --reuse`), their CPU time counted there."
            if copied
            else "."
        ),
        "",
        f"**Machines (finished run folders on each):** {machines}. Runs of one seed share their data order and "
        "initialisation on any machine; kernels differ between CPUs, so a run repeated on another gives figures "
        "within the seed noise, not the same digits.",
        "",
        *precision_note(trained),
        "## Scale and design (from the ablation file)",
        "",
        *[f"> {line}".rstrip() for line in header],
        "",
        f"Seeds {', '.join(map(str, meta.get('seeds', [])))}; variants: {', '.join(meta.get('variants', []))}; "
        f"baseline `{meta.get('baseline')}`.",
        "",
        "## Results so far" if completed < len(results) else "## Results",
        "",
        *results_table(study, results),
        "",
        "## Regenerate",
        "",
        "```bash",
        f"bash scripts/run_studies.sh {meta['name']}   # resumes: finished runs are kept",
        "```",
        "",
        f"which runs `ibench ablate specs/ablations/{source.name} --out {shown} --jobs $(nproc) --reuse DIR...` "
        "(DIR: each other study's folder, whose runs that are the same runs as this study's are copied, not "
        "trained again), then, where "
        f"{shown}/bench.csv is not there yet, `OMP_NUM_THREADS=1 ibench bench specs/ablations/{source.name} --mode "
        f"train --batch-size 64 --image-size 32 --baseline same --output {shown}/bench.csv` (every variant's "
        "training speed in the same interleaved rounds, one thread as the runs had; best on an otherwise idle "
        f"machine), then `ibench report {shown} --out {shown}/report` (report.md, report.html, plots, summary.csv) "
        "and this README.",
        "Run folders keep their records (config.json, metrics.jsonl, final.json, request.json); checkpoints are not "
        "committed.",
        "",
    ]
    atomic_write_text(study / "README.md", "\n".join(lines))
    print(f"{study / 'README.md'}: {state}")


if __name__ == "__main__":
    main()
