"""The Ray backend (``ibench ablate --backend ray``): an ablation's runs as Ray tasks, on a cluster or on a Ray
instance started on this machine.

- **Where runs live.** The ablation folder must be on storage that every node mounts at the same path (a shared
  file system: NFS, a cluster's shared disk; Ray's own docs ask the same of Tune's storage on a cluster). The
  driver creates each run folder and its request.json; the task trains in that folder as the local backend's
  worker does (:func:`~inception_bench.ablate.worker.run_one`), writing the metrics and a checkpoint after every
  epoch and the record at the end, each write atomic. Nothing travels through Ray's object store but a few
  strings. A node that cannot see the folder fails the run with an error naming the folder and the node. Relative
  paths in the request (``--data-root``, ``imagefolder:PATH``) are taken from the driver's working directory,
  which must be on that storage too.
- **Resources.** Each run is one task asking for one GPU when the cluster has GPUs (and its recipe's device is not
  ``cpu``), else ``cpus_per_run`` CPUs (the run's torch threads); Ray places it on a node with room, in a fresh
  worker process. At most ``jobs`` run at once (default: as many as the cluster has room for). Every node needs
  this package's dependencies installed; the driver's copy of ``inception_bench`` itself travels with the tasks
  (a Ray ``py_modules`` runtime environment). A ``HOST:PORT`` address means the driver runs on a node of the
  cluster; from elsewhere use Ray's ``ray://HOST:10001``.
- **Failures.** A run that fails (an error, out of GPU memory, divergence) records it and the grid goes on, as
  locally; it is not retried (``--retry-failed`` redoes it). A task whose worker process or node dies is retried
  by Ray up to ``max_retries`` times, and the retry resumes from the run's last checkpoint: the epoch in progress
  is lost, no finished one. Every worker that starts a run adds a line to its ``attempts.jsonl`` (attempt, node,
  pid, and which invocation of the command); results.csv has their count (``attempts``). When the retries are
  spent, the run is recorded failed with the reason. A run's output (warnings, tracebacks) goes to its
  ``worker.log``, as locally; what Ray itself logs stays in its session folder on the node. If a node is cut off
  rather than dead, Ray may start the run elsewhere while the old worker still writes to the same folder; delete
  such a run's folder and run the command again.
- **Ctrl-C** cancels the tasks in flight (Ray stops their workers; the runs stay partial, with their checkpoints);
  running the command again resumes them.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from inception_bench.ablate.local import Display, Summary, runs_to_do, summarize
from inception_bench.ablate.plan import Plan, PlannedRun, run_status, write_results
from inception_bench.errors import FieldError, IbenchError, one_line
from inception_bench.progress import ProgressMode
from inception_bench.store import RunFolder, RunRecord, RunStatus

INSTALL = "pip install 'inception-bench[ray]' (or pip install ray)"


def import_ray() -> Any:
    """The ``ray`` module, or one error line saying how to install it."""
    try:
        import ray
    except ImportError:
        raise FieldError("backend", f"needs Ray, which is not installed: {INSTALL}", "ray") from None
    return ray


def _storage_error(path: str, node: str) -> IbenchError:
    return IbenchError(
        f"{path}: not found on node {node}; put the ablation folder on storage every node sees at the same path"
    )


def _visible(path: Path, wait: float = 10.0) -> bool:
    """Whether ``path`` is a file here, looking again for ``wait`` seconds: a shared file system (NFS) may show a
    file the driver has just written only after its caches expire; listing the folder refreshes them."""
    deadline = time.monotonic() + wait
    while True:
        try:
            os.listdir(path.parent)
        except OSError:
            pass
        if path.is_file():
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(1.0)


def train_task(run_dir: str, threads: int, cwd: str, command: str, max_attempts: int) -> tuple[str, str | None]:
    """A Ray task's body, in a fresh Ray worker process on some node: train the run in ``run_dir`` (resuming its
    checkpoint) with ``threads`` torch threads (0: leave them), relative paths taken from ``cwd`` where this node
    has that folder (else they stay relative to the worker's own; a path not found is then the run's error, named).
    Returns (node, the run's record as JSON, or None when it has none). A run that fails is recorded in its folder;
    a folder this node cannot see raises. ``command`` names the ``ibench ablate`` invocation, so that this
    command's attempts can be counted: past ``max_attempts`` (whatever Ray's own retry policy) the run is recorded
    failed."""
    node = socket.gethostname()
    folder = RunFolder(Path(run_dir))
    if not _visible(folder.request_path):
        raise _storage_error(run_dir, node)
    if os.path.isdir(cwd):
        os.chdir(cwd)
    if not folder.has_record():  # else: an earlier attempt finished the run (its worker died after the record)
        attempt = folder.start_attempt(node, command)
        if attempt > max_attempts:
            message = f"its worker died in each of {max_attempts} attempts on this command (--max-retries)"
            folder.write_record(RunRecord(status=RunStatus.failed, message=message))
        else:
            _train(folder, threads)
    record = folder.read_record()
    return node, None if record is None else record.model_dump_json()


def _train(folder: RunFolder, threads: int) -> None:
    """Train the run in ``folder`` here, its output in worker.log; a failure is recorded (unless the run already
    has its record), as the local backend's worker process would leave it."""

    import torch

    from inception_bench.ablate.worker import run_one

    if threads:
        torch.set_num_threads(threads)
    with open(folder.log_path, "a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        try:
            run_one(folder)
        except Exception as e:  # a failure of the run itself: recorded, and the grid goes on
            if not folder.has_record():
                message = str(e) if isinstance(e, IbenchError) else f"{type(e).__name__}: {e}"
                folder.write_record(RunRecord(status=RunStatus.failed, message=" ".join(message.split())[:300]))
            traceback.print_exc()


@contextlib.contextmanager
def _ctrl_c() -> Iterator[threading.Event]:
    """An event that Ctrl-C (SIGINT) sets while the block runs, in place of Python's KeyboardInterrupt: Ray's
    ``wait`` runs Python's signal handlers from its C++ loop, and an exception raised there was seen to be lost (a
    Ctrl-C with no effect); the loop checks the event after each wait instead. Outside the main thread: never set."""
    event = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield event
        return
    previous = signal.signal(signal.SIGINT, lambda *_: event.set())
    try:
        yield event
    finally:
        signal.signal(signal.SIGINT, previous)


@dataclass
class RayBackend:
    """Runs on the Ray cluster at ``address`` (``auto``, ``HOST:PORT``; None: a Ray instance started here and
    stopped at :meth:`close`), ``jobs`` at a time at most (None: as many as fit), each asking for a GPU where the
    cluster has GPUs, else ``cpus_per_run`` CPUs; a task whose worker dies is retried ``max_retries`` times."""

    address: str | None = None
    jobs: int | None = None
    cpus_per_run: int = 1
    max_retries: int = 2
    _ray: Any = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.jobs is not None and self.jobs < 1:
            raise FieldError("jobs", "must be at least 1", self.jobs)
        if self.cpus_per_run < 1:
            raise FieldError("cpus_per_run", "must be at least 1", self.cpus_per_run)
        if self.max_retries < 0:
            raise FieldError("max_retries", "must be 0 or more", self.max_retries)

    @property
    def slots(self) -> int | None:
        """Runs at once: ``jobs``; None (as many as fit) is not known before the runs start."""
        return self.jobs

    def __enter__(self) -> RayBackend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def connect(self) -> Any:
        """The ``ray`` module, connected (once) to the cluster at ``address``, else at ``RAY_ADDRESS`` (set by
        ``ray job submit``), else to a Ray instance started here (not to whichever `ray start` ran last)."""
        if self._ray is not None:
            return self._ray
        ray = import_ray()
        import inception_bench

        address = self.address or os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(
                address=address or "local",
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
                runtime_env={"py_modules": [os.path.dirname(inception_bench.__file__)]},
            )
        except (ConnectionError, RuntimeError, ValueError, TimeoutError, ray.exceptions.RayError) as e:
            reason = " ".join(str(e).split())[:200]
            if address is None:
                raise IbenchError(f"--backend ray: cannot start Ray on this machine ({reason})") from None
            auth = "" if os.environ.get("RAY_AUTH_MODE") else ", RAY_AUTH_MODE=token if it uses token authentication"
            why = (
                f"cannot use the Ray cluster there ({reason}); is its head running (`ray start --head`), the same "
                f"Ray version, this machine one of its nodes (else use a ray:// address){auth}?"
            )
            if self.address is None:
                raise IbenchError(f"RAY_ADDRESS={address}: {why}") from None
            raise FieldError("ray_address", why, address) from None
        self._ray = ray
        return ray

    def close(self) -> None:
        """Disconnect (stopping the Ray instance when this backend started it)."""
        if self._ray is not None:
            self._ray.shutdown()
            self._ray = None

    def _task(self, ray: Any, gpu: bool) -> tuple[Any, int]:
        """The remote function asking for ``cpus_per_run`` CPUs and, for ``gpu``, one GPU, and the torch threads its
        run uses (a GPU run's: Ray's default). Each run gets a fresh worker process (``max_calls=1``), as with the
        local backend: its own CUDA device, threads and working directory."""
        options: dict[str, Any] = {"max_retries": self.max_retries, "max_calls": 1, "num_cpus": self.cpus_per_run}
        kind = "GPU" if gpu else "CPU"
        fits = [
            n["Resources"] for n in ray.nodes() if n.get("Alive") and (n["Resources"].get("GPU", 0) >= 1 or not gpu)
        ]
        largest = max((r.get("CPU", 0) for r in fits), default=0)
        if largest < self.cpus_per_run:
            why = f"no {kind} node of the cluster has that many CPUs (the largest has {largest:g})"
            raise FieldError("cpus_per_run", why, self.cpus_per_run)
        if gpu:
            return ray.remote(num_gpus=1, **options)(train_task), 0
        return ray.remote(**options)(train_task), self.cpus_per_run

    def run(
        self,
        plan: Plan,
        runs: list[PlannedRun],
        *,
        retry_failed: bool = False,
        rerun_changed: bool = False,
        progress: str = ProgressMode.auto,
    ) -> Summary:
        """Run what is left of ``runs`` on the cluster (see the module docstring)."""
        todo = runs_to_do(runs, retry_failed=retry_failed, rerun_changed=rerun_changed)
        started = time.perf_counter()
        write_results(plan)
        if not todo:
            return summarize(plan, runs, todo, started)
        ray = self.connect()
        cluster_gpus = ray.cluster_resources().get("GPU", 0) >= 1

        def on_gpu(run: PlannedRun) -> bool:  # a recipe on the CPU asks for CPUs only
            return cluster_gpus and run.recipe.get("device") != "cpu"

        # GPU or not: the remote function and its threads; made (and --cpus-per-run checked) before any run starts
        tasks = {gpu: self._task(ray, gpu) for gpu in sorted({on_gpu(run) for run in todo})}
        command = uuid.uuid4().hex  # this invocation: its attempts are counted apart from earlier ones
        cap = self.jobs or len(todo)
        queue, done = list(todo), 0
        in_flight: dict[Any, PlannedRun] = {}  # Ray's object refs of the tasks running

        def where(run: PlannedRun) -> str | None:  # the node this command's latest attempt at the run started on
            try:
                attempts = [a for a in run.folder.read_attempts() if a.get("command") == command]
            except IbenchError:
                return None
            return str(attempts[-1].get("node", "?")) if attempts else None

        with Display(todo, progress, where=where) as display, _ctrl_c() as interrupted:
            try:
                while queue or in_flight:
                    if interrupted.is_set():
                        raise KeyboardInterrupt
                    while queue and len(in_flight) < cap:
                        run = queue.pop(0)
                        task, threads = tasks[on_gpu(run)]
                        run.folder.create()
                        run.folder.write_request(run.request)
                        path = str(run.folder.path.resolve())
                        in_flight[task.remote(path, threads, os.getcwd(), command, self.max_retries + 1)] = run
                        display.start(run)
                    ready, _ = ray.wait(list(in_flight), num_returns=1, timeout=1.0)
                    for ref in ready:
                        run = in_flight.pop(ref)
                        node = self._outcome(ray, ref, run) or where(run) or ""
                        done += 1
                        write_results(plan)
                        display.finish(run, done, node)
            except ray.exceptions.RayError as e:  # the cluster itself failed (its head gone): as Ctrl-C, with a why
                self._cancel(ray, in_flight)
                raise IbenchError(
                    f"the Ray cluster failed during the grid ({one_line(e, 200)}); {done} runs finished, the others "
                    "keep their checkpoints: run the command again to resume"
                ) from None
            except BaseException:  # Ctrl-C, or a grid that cannot go on: stop the runs in flight, keep what is done
                self._cancel(ray, in_flight)
                raise
            finally:
                write_results(plan)
        return summarize(plan, runs, todo, started)

    @staticmethod
    def _cancel(ray: Any, in_flight: dict[Any, PlannedRun]) -> None:
        """Stop the tasks in flight (their runs stay partial, with their checkpoints) and let them end."""
        for ref in in_flight:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # the cluster is gone: nothing left to stop
                pass
        try:
            ray.wait(list(in_flight), num_returns=len(in_flight), timeout=5.0)
        except Exception:
            pass
        for run in in_flight.values():
            run.status = run_status(run)

    def _outcome(self, ray: Any, ref: Any, run: PlannedRun) -> str:
        """Read a finished task's run back (its record from the shared folder, or as the task returned it), and
        record what only Ray knows: a task that raised (the folder not visible there), or whose workers kept dying.
        Returns the node it finished on ("" when unknown)."""
        from ray import exceptions as rx

        node, returned, message, partial = "", None, "", False
        try:
            node, returned = ray.get(ref)
        except rx.RayTaskError as e:  # raised before training: the folder is not on this node's storage
            cause = e.cause if getattr(e, "cause", None) is not None else e
            message = " ".join(str(cause).split())[:300]
        except rx.TaskCancelledError:  # cancelled, not by this command: an interruption, resumed next time
            partial = True
        except (rx.WorkerCrashedError, rx.NodeDiedError, rx.OutOfMemoryError) as e:
            reason = " ".join(str(e).split())[:200]
            message = f"its worker died, and Ray's retries (--max-retries {self.max_retries}) are spent: {reason}"
        except rx.RayError as e:
            message = one_line(e, 200)
        if run.folder.has_record() or partial:
            pass  # the run's own record stands (a worker that died after writing it changes nothing)
        elif message:
            run.folder.write_record(RunRecord(status=RunStatus.failed, message=message))
        elif returned is not None:  # finished there, but this file system has not shown the record yet (NFS)
            run.folder.write_record(RunRecord.model_validate_json(returned))
        run.status = run_status(run)
        return node
