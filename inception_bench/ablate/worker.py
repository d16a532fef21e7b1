"""The ablation worker: ``python -m inception_bench.ablate RUN_DIR`` (:mod:`inception_bench.ablate.__main__`)
trains the run its request describes, resuming its checkpoint if any. A problem with the request or the data is one
``error:`` line and exit code 2. Apart from ``__main__`` so that the backends import it without ``python -m``
finding the module it runs already imported."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from inception_bench.errors import FieldError, IbenchError
from inception_bench.run.settings import Recipe, parse
from inception_bench.spec import LoadedSpec, Spec, validation_message
from inception_bench.store import RunFolder, RunStatus

DRIVER_PID = "IBENCH_ABLATE_DRIVER_PID"  # set by the local backend for its workers: the process they belong to


def run_one(folder: RunFolder) -> int:
    """Train the run described by the folder's request (its spec as resolved when planned, not the file now)."""
    from pydantic import ValidationError

    from inception_bench.run.tracking import Naming
    from inception_bench.run.train import train

    request = folder.read_request()
    if request is None:
        raise IbenchError(f"{folder.request_path}: not found; plan the run with `ibench ablate`")
    raw = request.get("spec")
    try:
        spec = Spec.model_validate(raw)
        recipe = parse(Recipe, {**Recipe.LEGACY, **(request.get("recipe") or {})}, "recipe")  # as it was asked
    except ValidationError as e:
        raw = raw if isinstance(raw, dict) else {}
        raise IbenchError(validation_message(f"{folder.request_path}: spec", raw, e, "specs/googlenet.yaml")) from None
    except FieldError as e:
        raise IbenchError(f"{folder.request_path}: {e}") from None
    overrides = request.get("overrides") or {}
    loaded = LoadedSpec(spec, Path(str(request.get("spec_path"))), bool(overrides), overrides)
    naming = Naming.from_request(request, folder.path)
    record = train(loaded, recipe, folder.path, resume=True, progress="none", naming=naming)
    return 0 if record.status == RunStatus.completed or record.status.judges_value else 1


def end_with_the_driver() -> None:
    """On Linux, have this worker end (SIGTERM: an interruption, so the run resumes from its last checkpoint) when
    the ``ibench ablate`` process that started it ends, however it ends (``kill``, a scheduler's stop, out of
    memory). Without this, a worker outlives a killed driver and goes on training a run that the next ``ibench
    ablate`` starts again in the same folder. Elsewhere a no-op."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    driver = os.environ.get(DRIVER_PID)
    if driver is not None and os.getppid() != int(driver):  # the driver ended before the call above: end now
        os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    end_with_the_driver()
    sys.exit(run_one(RunFolder(Path(sys.argv[1]))))
