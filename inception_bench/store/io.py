"""Atomic writes (a temp file in the same folder, then rename: an interrupted process never leaves a half-written
file behind) and JSON reading whose failures are one line naming the file."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from inception_bench.errors import IbenchError

if TYPE_CHECKING:
    import pandas as pd

_UMASK = os.umask(0)
os.umask(_UMASK)


# ---------------------------------------------------------------------------------------------- atomic writes
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


def write_json(path: Path, data: Any) -> None:
    atomic_write_text(path, json.dumps(data, indent=2) + "\n")


def read_json(path: Path, hint: str = "fix or delete it") -> dict[str, Any]:
    """A JSON object from a results file, or one clear error naming the file (and ``hint``)."""
    try:
        data = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise IbenchError(f"{path}: not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise IbenchError(f"{path}: corrupt results file ({' '.join(str(e).split())}); {hint}") from None
    if not isinstance(data, dict):
        raise IbenchError(f"{path}: corrupt results file (expected a JSON object); {hint}")
    return data


def read_csv(path: Path, what: str, hint: str = "") -> pd.DataFrame:
    """``path`` read by pandas; an unreadable or malformed file is one :class:`IbenchError` line naming it."""
    import pandas as pd

    try:
        return pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        reason = " ".join(str(e).split())[:160]
        raise IbenchError(f"{path}: {what} ({reason}){hint}") from None
