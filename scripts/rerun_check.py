"""Rerun one committed run from its own ``request.json`` with today's code and compare it with its records: does a
committed result still come out of the command that made it, to the digit?

    python scripts/rerun_check.py results/studies/paper/module-reduced_aux.enabled-on/seed-1 [--output FILE.md]

The run is trained again by the worker ``ibench ablate`` starts for each run (``python -m inception_bench.ablate
RUN``) in a new folder (``--work``, default a temporary one), with as many torch threads as its record names. Then
every figure of every epoch in ``metrics.jsonl`` and of ``final.json`` is compared for equality, except the
timings (seconds, images/s), which measure the machine. Equal digits are expected on the CPU model that trained it
(a seed fixes the data order, the initialisation and the augmentations); on another CPU the bf16 kernels differ and
the figures differ within the seed noise, so the check says which CPU each side ran on.
Exit status: 0 when every figure is equal, 1 when some differ, 2 on bad input.
Named by: results/studies/paper/rerun-check.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

from inception_bench.store import atomic_write_text

TIMINGS = {"seconds", "images_per_sec", "train_images_per_sec", "wall_seconds", "device", "message"}


def _records(run: Path) -> tuple[list[dict], dict]:
    lines = (run / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()], json.loads((run / "final.json").read_text())


def differences(old: Path, new: Path) -> tuple[int, list[str]]:
    """(figures compared, one markdown row per figure that differs) between two run folders' records."""
    (old_epochs, old_final), (new_epochs, new_final) = _records(old), _records(new)
    rows, compared = [], 0
    if len(old_epochs) != len(new_epochs):
        rows.append(f"| epochs | - | {len(old_epochs)} | {len(new_epochs)} |")
    pairs = [(f"epoch {a.get('epoch')}", a, b) for a, b in zip(old_epochs, new_epochs, strict=False)]
    for where, a, b in [*pairs, ("final.json", old_final, new_final)]:
        for key in sorted((set(a) | set(b)) - TIMINGS):
            compared += 1
            if a.get(key) != b.get(key):
                rows.append(f"| {where} | {key} | {a.get(key, 'not recorded')} | {b.get(key, 'not recorded')} |")
    return compared, rows


def _day(path: Path) -> str:
    """The UTC day a file was last written."""
    return datetime.datetime.fromtimestamp(path.stat().st_mtime, datetime.UTC).date().isoformat()


def _fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="a finished run folder (request.json, metrics.jsonl, final.json)")
    parser.add_argument("--work", type=Path, help="where to train the rerun (default: a temporary folder); one that "
                        "holds this run's finished rerun is compared, not trained again")  # fmt: skip
    parser.add_argument("--output", type=Path, help="also write the comparison to this markdown file")
    args = parser.parse_args()
    run: Path = args.run
    missing = [n for n in ("request.json", "metrics.jsonl", "final.json") if not (run / n).is_file()]
    if missing:
        _fail(f"{run}: not a finished run folder (no {', '.join(missing)}); give one ibench ablate wrote")
    work = args.work or Path(tempfile.mkdtemp(prefix="rerun-"))
    device = str(json.loads((run / "final.json").read_text()).get("device", ""))
    request = (run / "request.json").read_text()
    same = (work / "request.json").is_file() and (work / "request.json").read_text() == request
    if not (same and (work / "final.json").exists()):  # else --work holds this run's finished rerun: compare only
        if work.exists() and any(work.iterdir()) and not same:  # (this run's unfinished rerun: resumed)
            _fail(f"--work {work}: holds something else; give a new folder or this run's earlier rerun")
        work.mkdir(parents=True, exist_ok=True)
        shutil.copy(run / "request.json", work / "request.json")
        threads = re.search(r"(\d+) threads?\)", device)
        env = {**os.environ, "OMP_NUM_THREADS": threads.group(1) if threads else "1"}
        done = subprocess.run([sys.executable, "-m", "inception_bench.ablate", str(work)], env=env, check=False)
        if done.returncode != 0 or not (work / "final.json").exists():
            _fail(f"the rerun in {work} failed (exit {done.returncode}); its worker.log says why")
    compared, rows = differences(run, work)
    rerun = json.loads((work / "final.json").read_text())
    rerun_device = rerun.get("device")
    lines = [
        f"Rerun of `{run}` from its request.json in `{work}` (`python scripts/rerun_check.py {run}`).",
        "",
        f"- committed run: {device}, code {json.loads((run / 'config.json').read_text()).get('git_commit')}",
        f"- rerun: {rerun_device}, code {json.loads((work / 'config.json').read_text()).get('git_commit')}, "
        f"finished {_day(work / 'final.json')}, {float(rerun.get('wall_seconds') or 0) / 60:.0f} min",
        f"- {compared} figures compared (every epoch's metrics and final.json, timings left out): "
        + ("all equal." if not rows else f"{len(rows)} differ:"),
    ]
    if rows:
        lines += ["", "| where | figure | committed | rerun |", "|---|---|---|---|", *rows]
    text = "\n".join(lines) + "\n"
    print(text)
    if args.output:
        atomic_write_text(args.output, text)
    sys.exit(1 if rows else 0)


if __name__ == "__main__":
    main()
