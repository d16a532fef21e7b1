"""Bench rows out: the terminal table, CSV and JSON, and appending to a CSV or JSON file that earlier benchmarks
wrote."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

from inception_bench.bench.setups import PHASES, BenchRow
from inception_bench.errors import FieldError, IbenchError, one_line


def check_output(path: Path) -> Any:
    """The rows already in ``--output`` (None for a new file), or one error line, before anything is measured, for
    a file the rows could not be appended to: a folder, or a file that ``ibench bench`` did not write."""
    if path.is_dir():
        raise FieldError("output", "is a folder; give a .csv or .json file name", path)
    return _earlier_rows(path) if path.exists() else None


BENCH_KEYS = {"model", "mode", "batch_size", "images_per_sec"}  # the columns every bench file has had


def _earlier_rows(path: Path) -> Any:
    """The rows already in ``path``: a JSON list for .json, a pandas frame otherwise. They must have
    :data:`BENCH_KEYS` (older files' other columns are kept), so an unrelated file is never rewritten."""
    import pandas as pd

    from inception_bench.store import read_json

    hint = "give a new output file or one written by `ibench bench`"
    try:
        if path.suffix == ".json":
            earlier = read_json(path, hint).get("rows")
            columns = {key for row in earlier for key in row} if isinstance(earlier, list) else None
        else:
            earlier = pd.read_csv(path)
            columns = set(earlier.columns)
    except (OSError, ValueError, AttributeError, TypeError) as e:
        raise IbenchError(f"{path}: cannot append to it ({one_line(e, 120)}); {hint}") from None
    empty = isinstance(earlier, list) and not earlier  # a JSON file with no rows yet
    if columns is None or not (empty or BENCH_KEYS <= columns):
        raise IbenchError(f"{path}: not written by `ibench bench` (its columns are not a benchmark's); {hint}")
    return earlier


def append_rows(rows: list[BenchRow], path: Path) -> None:
    """Append to a CSV (or JSON list) file, atomically; the file keeps earlier benchmarks."""
    import json

    import pandas as pd

    from inception_bench.store import atomic_write_text

    earlier = check_output(path)  # read again: the file may have changed while the rows were measured
    new = [asdict(r) for r in rows]
    if path.suffix == ".json":
        atomic_write_text(path, json.dumps({"rows": (earlier or []) + new}, indent=2) + "\n")
        return
    frame = pd.DataFrame(new) if earlier is None else pd.concat([earlier, pd.DataFrame(new)], ignore_index=True)
    atomic_write_text(path, frame.to_csv(index=False))


COLUMNS = [
    ("model", "model"),
    ("mode", "mode"),
    ("setup", "setup"),
    ("batch_size", "batch"),
    ("image_size", "px"),
    ("images_per_sec", "img/s"),
    ("step_ms_median", "step ms"),
    ("step_ms_iqr", "IQR ms"),
    ("phases", "fwd/bwd/opt ms"),
    ("compile_s", "compile s"),
    ("vs_fp32_eager", "vs fp32 eager"),
    ("vs_torchvision", "vs tv"),
    ("tmacs_per_sec", "TMAC/s"),
    ("peak_fraction", "of peak"),
    ("step_memory_mb", "step MiB"),
    ("peak_memory_mb", "peak MiB"),  # older CSVs: CUDA's max_memory_allocated, or the process's peak RSS
    ("params", "params"),
    ("macs", "MACs"),
    ("note", "note"),
]


def setup_label(row: dict[str, Any]) -> str:
    """A row's settings in words, e.g. ``bf16 + channels_last + fused 1x1 + compile (reduce-overhead)``."""
    runtime = str(row.get("runtime", "torch"))  # older CSVs have no such column
    parts = [runtime] * (runtime not in ("torch", "nan")) + [str(row.get("precision"))]
    if str(row.get("channels_last")) == "True":
        parts.append("channels_last")
    if str(row.get("fuse_1x1")) == "True":  # older CSVs have no such column
        parts.append("fused 1x1")
    if str(row.get("s2d_stem")) == "True":
        parts.append("s2d stem")
    if str(row.get("compile")) == "True":
        mode = row.get("compile_mode")
        mode = mode.removeprefix("default; ") if isinstance(mode, str) else ""
        parts.append("compile" + (f" ({mode})" if mode not in ("", "default") else ""))
    return " + ".join(parts)


def _number(value: Any) -> float | None:
    """A cell's number, or None for missing values (None, "", NaN from a CSV)."""
    if value is None or value == "":
        return None
    number = float(value)
    return None if number != number else number


def table_rows(rows: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Rows (``BenchRow`` fields, from this run or a CSV; older CSVs lack some) as a header and cells of
    ``COLUMNS``, leaving out the columns that are empty in every row (no --detail, no compiled setup, no known
    peak, a column older or newer files do not have)."""
    cells = [[_cell(key, row) for key, _ in COLUMNS] for row in rows]
    keep = [i for i, (key, _) in enumerate(COLUMNS) if key in ("model", "mode") or any(c[i] for c in cells)]
    return [COLUMNS[i][1] for i in keep], [[c[i] for i in keep] for c in cells]


def _cell(key: str, row: dict[str, Any]) -> str:
    if key == "setup":
        return setup_label(row)
    if key == "phases":
        parts = [_number(row.get(f"{p}_ms")) for p in PHASES]
        return "/".join(f"{p:.1f}" for p in parts if p is not None) if all(p is not None for p in parts) else ""
    if key in ("vs_fp32_eager", "vs_torchvision"):
        mid, lo, hi = (_number(row.get(k)) for k in (key, f"{key}_lo", f"{key}_hi"))
        if mid is None:
            return ""
        return f"{mid:.2f}x" + (f" ({lo:.2f}-{hi:.2f})" if lo is not None and hi is not None and lo != hi else "")
    value = row.get(key)
    if key == "note" or key == "model" or key == "mode":
        return "" if value is None or (isinstance(value, float) and value != value) else str(value)
    number = _number(value)
    if number is None:
        return ""
    formats = {
        "params": f"{number:,.0f}",
        "macs": f"{number / 1e9:.3f}G",
        "images_per_sec": f"{number:,.0f}",
        "peak_memory_mb": f"{number:,.0f}",
        "step_memory_mb": f"{number:,.0f}",
        "step_ms_median": f"{number:.1f}",
        "step_ms_iqr": f"{number:.1f}",
        "compile_s": f"{number:.1f}",
        "tmacs_per_sec": f"{number:.3f}",
        "peak_fraction": f"{number:.1%}",
        "batch_size": f"{number:.0f}",
        "image_size": f"{number:.0f}",
    }
    return formats.get(key, str(value))


def rich_table(rows: list[BenchRow]) -> Any:
    """The rows as a rich table for the terminal, titled with the device, image size and torch version."""
    from rich.table import Table

    first = rows[0]
    header, cells = table_rows([asdict(r) for r in rows])
    table = Table(*header, title=f"{first.device}, {first.image_size}px, torch {first.torch_version}")
    for row in cells:
        table.add_row(*row)
    return table


def rows_json(rows: list[BenchRow]) -> str:
    """The rows as the JSON document ``--output x.json`` holds: ``{"rows": [...]}``."""
    import json

    return json.dumps({"rows": [asdict(r) for r in rows]}, indent=2) + "\n"


def rows_csv(rows: list[BenchRow]) -> str:
    import pandas as pd

    return str(pd.DataFrame([asdict(r) for r in rows]).to_csv(index=False))
