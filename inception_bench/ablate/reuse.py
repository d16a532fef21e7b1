"""Runs reused from other ablation folders (``ibench ablate --reuse DIR``): studies that share a variant (most often
their baseline) train its runs once.

A planned run that has not started is copied from a finished run of one of those folders when the two are the same
run (:func:`~inception_bench.ablate.plan.run_identity`: the spec as recorded, the portable recipe, the seed, the
not-learning guard; not the ablation, variant or folder either was planned in) and this ablation did not train it
itself (a run of it deleted to redo it does not come back from another study's copy). Tuning runs are planned runs
too, so a shared variant's tuning candidates are copied as well as its seeds, and its choice follows from the
copies as it would from its own runs.
Only runs that ended by themselves are copied (completed, diverged, not learning: answers, not failures to retry).

A copy hard-links the source's files (:meth:`~inception_bench.store.RunFolder.adopt`) and names its source in
``copied-from.json``: ``from``, the source folder relative to the copy's (a run trained there where the folders hold
one, else a copy), and ``ablation``, the name of the ablation that trained it (from the source's ``request.json``,
which a copy keeps as its trainer wrote it); a study's CPU time counts such a run where it was trained, not again in
every study it was copied into (``scripts/study_readme.py``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from inception_bench.ablate.plan import run_identity, settle_copy
from inception_bench.ablate.runs import PlannedRun
from inception_bench.errors import FieldError, IbenchError
from inception_bench.store import AblationFolder, RunFolder, RunStatus


class Reuse:
    """The finished runs of ``folders`` (other ablations' ``--out`` folders), to copy into the planned runs of the
    ablation ``name``, whose folder is ``out``."""

    def __init__(self, folders: Sequence[Path], out: AblationFolder, name: str) -> None:
        for folder in folders:
            if not (folder / AblationFolder.META).is_file():
                why = f"is not an ablation folder (no {AblationFolder.META}); give a folder that `ibench ablate` wrote"
                raise FieldError("reuse", why, folder)
            if folder.resolve() == out.path.resolve():
                raise FieldError("reuse", "is this ablation's own output folder; give another ablation's", folder)
        self.folders, self.name = list(folders), name

    def sources(self) -> dict[str, tuple[RunFolder, str | None]]:
        """Each reusable run by its identity, with the name of the ablation that trained it: a run trained where it
        is, where the folders hold one, else the first copy found. A run folder whose files cannot be read is left
        out: its own ablation says what is wrong with it."""
        found: dict[str, tuple[RunFolder, str | None]] = {}
        copies: set[str] = set()  # the identities found so far as copies only
        for folder in self.folders:
            for request_path in sorted(folder.rglob(RunFolder.REQUEST)):
                run = RunFolder(request_path.parent)
                if any(part.startswith(".") for part in run.path.relative_to(folder).parts):
                    continue  # a copy or a run being made
                try:
                    request, record, origin = run.read_request(), run.read_record(), run.read_origin()
                except IbenchError:
                    continue
                if request is None or record is None or request.get("ablation") == self.name:
                    continue
                if record.status != RunStatus.completed and not record.status.judges_value:
                    continue  # a failure to retry, not an answer
                key = run_identity(request)
                if key not in found or (key in copies and origin is None):
                    found[key] = (run, request.get("ablation"))
                    if origin is None:
                        copies.discard(key)
                    else:
                        copies.add(key)
        return found

    def matches(self, runs: list[PlannedRun]) -> list[tuple[PlannedRun, RunFolder, str | None]]:
        """Each of ``runs`` that has not started (``new``, not waiting on its tuning) and has the same run finished in
        the folders, with that run's folder and the name of the ablation that trained it (what ``--dry-run`` shows
        as ``copy``)."""
        todo = [r for r in runs if r.status == RunStatus.new and not r.note]
        found = self.sources() if todo else {}
        return [(run, *found[key]) for run in todo if (key := run_identity(run.request)) in found]

    def adopt(self, runs: list[PlannedRun]) -> list[PlannedRun]:
        """Copy into each of ``runs`` that has not started the same run from the folders, where one has finished
        there (:meth:`matches`). Returns the runs copied (their status is the copied record's)."""
        copied = []
        for run, source, trainer in self.matches(runs):
            origin = {"from": Path(os.path.relpath(source.path.resolve(), run.folder.path.resolve())).as_posix(),
                      "ablation": trainer}  # fmt: skip
            if run.folder.adopt(source, origin):
                settle_copy(run)
                copied.append(run)
        return copied
