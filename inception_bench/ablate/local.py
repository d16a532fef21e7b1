"""The local backend: an ablation's runs as worker processes on this machine, ``jobs`` at a time (or one per GPU).

Each run is its own process (``python -m inception_bench.ablate RUN_DIR``, :mod:`inception_bench.ablate.worker`),
so a crash or an out-of-memory kill is recorded as that run's failure and the rest of the grid goes on. Running
the same plan again skips completed runs (their files untouched), resumes partial ones from their last checkpoint,
reruns failed, diverged or not-learning ones only with ``retry_failed``, and leaves runs whose recorded request no
longer matches the ablation file alone (``changed``) unless ``rerun_changed`` discards and redoes them. ``results.csv``
is rewritten after every finished run; an interrupted run stays ``partial``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from inception_bench.ablate.plan import Plan, PlannedRun, will_run, write_results
from inception_bench.ablate.worker import DRIVER_PID
from inception_bench.errors import FieldError, IbenchError
from inception_bench.progress import ProgressMode, live, plain_line
from inception_bench.store import RunRecord, RunStatus

INTERRUPTED_CODES = (-signal.SIGINT, -signal.SIGTERM, 130)


@dataclass
class Summary:
    """What a call of :meth:`LocalBackend.run` did, and where the plan stands."""

    ran: int
    total: int
    completed: int
    failed: list[tuple[str, int, str, str]]  # (variant, seed, status, message)
    changed: list[tuple[str, int]]
    seconds: float
    results: str


def cpu_threads() -> int:
    """The CPU threads the runs share: ``OMP_NUM_THREADS`` where set (a machine shared on purpose: the runs take
    that many in all, not every core), else every core."""
    given = os.environ.get("OMP_NUM_THREADS", "").strip()
    return int(given) if given.isdigit() and int(given) > 0 else (os.cpu_count() or 1)


def launch(run: PlannedRun, env_extra: dict[str, str]) -> None:
    """Run one (variant, seed) in its own process; leave a record behind unless it was interrupted."""
    run.folder.create()
    run.folder.write_request(run.request)
    with open(run.folder.log_path, "ab") as log:
        proc = subprocess.run(
            [sys.executable, "-m", "inception_bench.ablate", str(run.folder.path)],
            stdout=log,
            stderr=log,
            env={**os.environ, **env_extra, DRIVER_PID: str(os.getpid())},
        )
    record = run.folder.read_record()
    if record is not None:  # the worker's own record (completed, diverged, not-learning, or failed with its message)
        run.status = record.status
        return
    if proc.returncode in INTERRUPTED_CODES:
        run.status = RunStatus.partial  # interrupted, not failed: the next run of the command resumes it
        return
    tail = run.folder.log_tail() or f"exit code {proc.returncode}"
    if proc.returncode < 0:
        tail = f"killed by signal {-proc.returncode} (out of memory?); {tail}"
    run.folder.write_record(RunRecord(status=RunStatus.failed, message=tail, exit_code=proc.returncode))
    run.status = RunStatus.failed


def visible_device(index: str) -> str:
    """The ``CUDA_VISIBLE_DEVICES`` entry of GPU ``index`` as this process numbers its GPUs (torch's numbering, which
    ``--devices`` uses): the index-th entry of this process's own ``CUDA_VISIBLE_DEVICES`` when set (a scheduler's
    allocation, e.g. ``2,3``), else the index itself."""
    visible = [d.strip() for d in os.environ.get("CUDA_VISIBLE_DEVICES", "").split(",") if d.strip()]
    return visible[int(index)] if int(index) < len(visible) else index


@dataclass
class LocalBackend:
    """``jobs`` runs at once, or one run per GPU of ``devices`` (CUDA indices as torch numbers the GPUs this process
    sees, :func:`visible_device`; ``jobs`` is then their number)."""

    jobs: int = 1
    devices: list[str] | None = None

    def __post_init__(self) -> None:
        if self.jobs < 1:
            raise FieldError("jobs", "must be at least 1", self.jobs)
        if self.devices is not None and (not self.devices or not all(d.isdigit() for d in self.devices)):
            raise FieldError("devices", "use GPU indices separated by commas, e.g. 0,1", ",".join(self.devices))
        if self.devices:
            import torch

            count = torch.cuda.device_count()  # those CUDA_VISIBLE_DEVICES lets this process see
            if count == 0:
                why = "this machine has no CUDA GPU; leave --devices out to run on the CPU (--jobs N runs N at once)"
                raise FieldError("devices", why, ",".join(self.devices))
            if any(int(d) >= count for d in self.devices):
                why = f"this machine has {count} CUDA GPU(s): indices 0 to {count - 1}"
                raise FieldError("devices", why, ",".join(self.devices))

    def __enter__(self) -> LocalBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    @property
    def slots(self) -> int:
        """Runs at once."""
        return len(self.devices) if self.devices else self.jobs

    @classmethod
    def from_text(cls, jobs: int, devices: str | None) -> LocalBackend:
        """From the ``jobs`` count and a ``devices`` list written ``0,1,2``."""
        listed = [d.strip() for d in devices.split(",") if d.strip()] if devices is not None else None
        if devices is not None and not listed:
            raise FieldError("devices", "use GPU indices separated by commas, e.g. 0,1", devices)
        return cls(jobs, listed)

    def run(
        self,
        plan: Plan,
        runs: list[PlannedRun],
        *,
        retry_failed: bool = False,
        rerun_changed: bool = False,
        progress: str = ProgressMode.auto,
    ) -> Summary:
        """Run what is left of ``runs``."""
        todo = runs_to_do(runs, retry_failed=retry_failed, rerun_changed=rerun_changed)
        jobs = self.slots
        threads = str(max(1, cpu_threads() // jobs))
        free: list[str] = list(self.devices or [])
        lock = threading.Lock()
        stopping = threading.Event()
        done = [0]
        started = time.perf_counter()
        write_results(plan)
        display = Display(todo, progress)

        def work(run: PlannedRun) -> None:
            if stopping.is_set():
                return
            with lock:
                device = free.pop(0) if self.devices else None
            env = {"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads}
            if device is not None:
                env["CUDA_VISIBLE_DEVICES"] = visible_device(device)
            display.start(run)
            try:
                launch(run, env)
            except BaseException:  # the driver cannot go on (a run folder that cannot be made): no new runs
                stopping.set()
                raise
            finally:
                with lock:
                    if device is not None:
                        free.append(device)
                    done[0] += 1
                    write_results(plan)
            display.finish(run, done[0])

        with display, ThreadPoolExecutor(max_workers=jobs) as pool:
            futures = [pool.submit(work, run) for run in todo]
            try:
                for future in futures:
                    future.result()
            except BaseException:  # Ctrl-C (the workers got it too), or a run folder that cannot be made:
                stopping.set()  # start no new run, keep what is done
                for future in futures:
                    future.cancel()
                raise
            finally:
                write_results(plan)
        return summarize(plan, runs, todo, started)


def runs_to_do(runs: list[PlannedRun], *, retry_failed: bool, rerun_changed: bool) -> list[PlannedRun]:
    """The runs a backend starts (new and partial ones), after clearing what ``retry_failed`` (failed, diverged and
    not-learning runs: their records) and ``rerun_changed`` (changed runs: their folders) ask to redo."""
    todo: list[PlannedRun] = []
    for run in runs:
        if not will_run(run, retry_failed=retry_failed, rerun_changed=rerun_changed):
            continue
        if run.status in RunStatus.unsuccessful() and retry_failed:
            run.folder.clear_record()  # continue from the last checkpoint, if there is one
            run.status = RunStatus.partial
        if run.status == RunStatus.changed and rerun_changed:
            shutil.rmtree(run.folder.path, ignore_errors=True)
            run.status = RunStatus.new
        todo.append(run)
    return todo


def summarize(plan: Plan, runs: list[PlannedRun], todo: list[PlannedRun], started: float) -> Summary:
    """What a backend's call did (``todo`` of ``runs``, since ``started``) and where the plan stands."""
    return Summary(
        ran=len(todo),
        total=len(runs),
        completed=sum(r.status == RunStatus.completed for r in runs),
        failed=[(r.variant, r.seed, r.status, _message(r)) for r in runs if r.status in _FAILED],
        changed=[(r.variant, r.seed) for r in runs if r.status == RunStatus.changed],
        seconds=time.perf_counter() - started,
        results=str(plan.out.results_path),
    )


_FAILED = RunStatus.unsuccessful()


def _message(run: PlannedRun) -> str:
    if run.note:
        return run.note
    try:
        record = run.folder.read_record()
    except IbenchError as e:
        return str(e)
    return record.message if record is not None else ""


def _here(run: PlannedRun) -> str | None:
    return ""


@dataclass
class Display:
    """A grid's progress: runs done of those to do, how many are running, waiting and failed, the ETA, and each
    running run's epoch (from its metrics file) and node. ``mode`` (a ProgressMode): a live view on a terminal
    (stderr) under auto; one line per finished run on other output or under plain; nothing under none. ``where``
    gives the node a run handed to the backend is running on ("": here), or None while it waits for room (in Ray's
    queue); it and the metrics are read once a second, outside the lock that :meth:`start` and :meth:`finish`
    take, so a slow shared file system slows the view only."""

    todo: list[PlannedRun]
    mode: str  # a ProgressMode
    where: Callable[[PlannedRun], str | None] = _here
    rows: dict[int, Any] = field(default_factory=dict)  # the runs running, by id: their progress rows
    nodes: dict[int, str] = field(default_factory=dict)  # ... and the node each row names
    waiting: dict[int, PlannedRun] = field(default_factory=dict)  # handed to the backend, not running yet
    done: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)
    started: float = field(default_factory=time.perf_counter)
    progress: Any = None

    @property
    def live(self) -> bool:
        return live(self.mode) and bool(self.todo)

    def __enter__(self) -> Display:
        if self.live:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.progress = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),  # where the plain lines go too; stdout keeps the summary
                transient=True,  # gone at the end: the finished runs' lines and the summary stay
            )
            self.overall = self.progress.add_task(self._counts(), total=len(self.todo))
            self.progress.start()
            self.poller = threading.Thread(target=self._poll, daemon=True)
            self.poller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        if self.progress is not None:
            self.poller.join(timeout=5.0)
            self.progress.stop()

    def _counts(self) -> str:
        pending = len(self.todo) - self.done - len(self.rows) - len(self.waiting)
        counts = f"runs: {len(self.rows)} running, {len(self.waiting)} waiting, {pending} pending"
        return counts + (f", {self.failed} failed" if self.failed else "")

    def _poll(self) -> None:
        while not self.stop.wait(1.0):
            with self.lock:
                watched = list(self.waiting.values()) + [r for r in self.todo if id(r) in self.rows]
            seen = {}  # id: (node or None, epochs or None), read without the lock
            for run in watched:
                try:
                    seen[id(run)] = (self.where(run), len(run.folder.read_metrics()))
                except Exception:  # caught mid-write, or by a foreign tool: next second; the view goes on
                    continue
            with self.lock:
                for run in watched:
                    if id(run) in seen:
                        self._update(run, *seen[id(run)])
                self.progress.update(self.overall, description=self._counts())

    def _update(self, run: PlannedRun, node: str | None, epochs: int | None) -> None:
        """Show ``run`` as running on ``node`` (None: still waiting), at ``epochs``; under the lock."""
        if node is None or (id(run) not in self.waiting and id(run) not in self.rows):
            return  # waiting, or finished meanwhile
        label = f"  {run.variant} seed {run.seed}" + (f" on {node}" if node else "") + " (epochs)"
        if self.waiting.pop(id(run), None) is not None:
            self.rows[id(run)] = self.progress.add_task(label, total=run.recipe["epochs"])
        elif self.nodes.get(id(run)) != node:  # retried elsewhere
            self.progress.update(self.rows[id(run)], description=label)
        self.nodes[id(run)] = node
        if epochs is not None:
            self.progress.update(self.rows[id(run)], completed=epochs)

    def start(self, run: PlannedRun) -> None:
        """A run handed to the backend."""
        if self.progress is not None:
            node = self.where(run)
            with self.lock:
                self.waiting[id(run)] = run
                self._update(run, node, None)
                self.progress.update(self.overall, description=self._counts())

    def finish(self, run: PlannedRun, done: int, where: str = "") -> None:
        """Report a finished run (``where``: the node it ran on, under Ray)."""
        with self.lock:
            self.done = done
            self.failed += run.status in _FAILED
            failed = f", {self.failed} failed" if self.failed else ""
        elapsed = time.perf_counter() - self.started
        eta = elapsed / done * (len(self.todo) - done)
        line = f"[{done}/{len(self.todo)}{failed}, ETA {eta:.0f} s] {run.variant} seed {run.seed}: {run.status}"
        line += f" on {where}" if where else ""
        try:
            record = run.folder.read_record()
        except IbenchError as e:
            record, line = None, f"{line} ({e})"
        if record is not None:
            if record.val_top1 is not None:
                line += f", top-1 {record.val_top1:.2%}"
            if record.wall_seconds is not None:
                line += f", {record.wall_seconds:.0f} s"
            if run.status != RunStatus.completed and record.message:
                line += f" ({record.message})"
        if self.progress is not None:
            with self.lock:
                row = self.rows.pop(id(run), None)
                if row is not None:
                    self.progress.remove_task(row)
                self.waiting.pop(id(run), None)
                self.progress.update(self.overall, advance=1, description=self._counts())
            self.progress.console.print(line, highlight=False, markup=False)
        elif self.mode != ProgressMode.none:
            plain_line(line)
