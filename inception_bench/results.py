"""Reading and writing result files: every write is atomic (a temp file in the same folder, then rename),
so an interrupted run never leaves a half-written record or checkpoint behind."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from inception_bench.errors import IbenchError

_UMASK = os.umask(0)
os.umask(_UMASK)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (readers see the old file or the new one, never a mix)."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise IbenchError(f"{path}: cannot write here ({e.strerror or e}); choose a writable location") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise IbenchError(f"{path}: cannot write here ({e.strerror or e}); choose a writable location") from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    atomic_write_bytes(path, text.encode())


# ------------------------------------------------------------------------------------------- run records
FINAL = "final.json"
RESULT_COLUMNS = [
    "variant", "seed", "status", "val_top1", "val_top5", "params", "ops", "train_images_per_sec",
    "wall_seconds", "epochs", "error",
]  # fmt: skip


def read_json(path: Path, hint: str = "delete it to redo that run") -> dict:
    """A JSON object from a results file, or one clear error naming the file (and ``hint``)."""
    import json

    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise IbenchError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        reason = " ".join(str(e).split())
        raise IbenchError(f"{path}: corrupt results file ({reason}); {hint}") from None
    if not isinstance(data, dict):
        raise IbenchError(f"{path}: corrupt results file (expected a JSON object); {hint}")
    return data


def write_json(path: Path, data: dict) -> None:
    import json

    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def write_results_csv(rows: list[dict], path: Path, extra_columns: list[str] | None = None) -> None:
    """One row per run, the standard columns first, then ``extra_columns`` (one per varied axis), atomically."""
    import pandas as pd

    columns = RESULT_COLUMNS + [c for c in (extra_columns or []) if c not in RESULT_COLUMNS]
    frame = pd.DataFrame(rows)
    for c in columns:
        if c not in frame.columns:
            frame[c] = None
    rest = [c for c in frame.columns if c not in columns]
    atomic_write_text(path, frame[columns + rest].to_csv(index=False))


def read_results_csv(path: Path):  # -> pandas.DataFrame
    import pandas as pd

    try:
        frame = pd.read_csv(path)
    except FileNotFoundError:
        raise IbenchError(f"{path}: not found; run `ibench ablate` first") from None
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise IbenchError(f"{path}: corrupt results file ({' '.join(str(e).split())[:160]})") from None
    missing = [c for c in ("variant", "seed", "status") if c not in frame.columns]
    if missing:
        raise IbenchError(f"{path}: not an ibench results.csv (missing columns {', '.join(missing)})")
    return frame
