"""``ibench bench``: throughput and memory of spec variants, with torchvision's googlenet measured alongside.

Conventions
-----------
- Each measurement runs ``warmup`` untimed steps, then ``steps`` timed steps; every step ends with a device
  synchronisation, so a step time is wall time of a complete step. Reported: median step time, the spread
  (interquartile range) and images/s = batch / median step time.
- ``train`` steps are forward + loss (aux heads included, weighted as the spec says) + backward + SGD step;
  ``infer`` steps are a forward pass in eval mode under ``torch.inference_mode``.
- MACs are the network's multiply-adds per image at the benchmark's image size (``ibench count``
  conventions). The achieved multiply-add rate is MACs x images/s for inference and 3 x MACs x images/s for
  training (the backward pass costs about twice the forward), in 10^12 MAC/s; ``peak_fraction`` divides it
  by the device's dense peak for the precision when known (``--peak-tmacs`` or the table below).
- Peak memory: on CUDA, ``torch.cuda.max_memory_allocated`` of that measurement; on the CPU, the process's
  peak resident set size so far (it only grows: run one variant per process for per-variant figures).
- ``fuse_1x1`` runs our models with each reduced Inception module's three input 1x1 convolutions as one
  (:meth:`GoogLeNet.fuse_1x1`; same weights and arithmetic); ``s2d_stem`` runs their conv1 on 2x2
  space-to-depth blocks (:meth:`GoogLeNet.space_to_depth_stem`; same weights and function, and MACs still
  counted as the network's). torchvision's model is always run as it is.
- A batch size that runs out of memory is halved until it fits; the row says so (``note``).
- Every variant's images/s is also given as a ratio to torchvision's ``googlenet(weights=None)`` measured in
  the same process under the same settings (``--no-torchvision`` skips it).
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import resource
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inception_bench.count import totals
from inception_bench.engine import (
    autocast_for,
    build_for_run,
    compiled,
    device_name,
    prepare_device,
    resolve_device,
    resolve_precision,
    train_step,
)
from inception_bench.errors import FieldError, IbenchError, fields_of
from inception_bench.models import resolve_spec
from inception_bench.settings import BenchSettings
from inception_bench.spec import MODELS, LoadedSpec, display_path, read_yaml

# Dense peak multiply-add rates (10^12 MAC/s = half the vendor's TFLOPS) of common GPUs, by precision, first
# match of the device name wins. "fp32" is the TF32 tensor-core peak, since cuDNN runs fp32 convolutions in TF32
# unless torch.backends.cudnn.allow_tf32 is off; "fp32-strict" (plain fp32 units) applies then.
PEAK_TMACS = {
    "H100 PCIe": {"bf16": 378.0, "fp16": 378.0, "fp32": 189.0, "fp32-strict": 25.6},  # 756 TFLOPS bf16 dense
    "H100": {"bf16": 494.7, "fp16": 494.7, "fp32": 247.4, "fp32-strict": 33.5},  # SXM: 989 bf16, 495 tf32, 67 fp32
    "H200": {"bf16": 494.7, "fp16": 494.7, "fp32": 247.4, "fp32-strict": 33.5},
    "A100": {"bf16": 156.0, "fp16": 156.0, "fp32": 78.0, "fp32-strict": 9.75},
}
TORCHVISION = "torchvision googlenet"  # the baseline's name in rows


def check_inductor(settings: BenchSettings) -> None:
    """Each ``inductor`` key must be a torch._inductor.config setting, booleans given as booleans."""
    from torch._inductor import config

    current = config.get_config_copy()
    for key, value in settings.inductor.items():
        if key not in current:
            raise FieldError("inductor", "not a torch._inductor.config setting (e.g. freezing=true)", f"{key}={value}")
        if isinstance(current[key], bool) and not isinstance(value, bool):
            raise FieldError("inductor", f"{key} takes true or false", f"{key}={value}")


@dataclass
class BenchRow:
    model: str
    mode: str
    device: str
    precision: str
    channels_last: bool
    compile: bool
    compile_mode: str  # "" when not compiled
    fuse_1x1: bool  # whether 1x1 convolutions ran fused (never for torchvision's model or naive modules)
    s2d_stem: bool  # whether conv1 ran on space-to-depth blocks (never for torchvision's model)
    batch_size: int
    image_size: int
    images_per_sec: float
    step_ms_median: float
    step_ms_iqr: float
    peak_memory_mb: float
    params: int
    macs: int
    tmacs_per_sec: float
    peak_fraction: float | None
    vs_torchvision: float | None
    note: str
    torch_version: str
    date: str


# --------------------------------------------------------------------------------------------- what to measure
def targets(path: Path | None, overrides: dict[str, Any]) -> list[tuple[str, LoadedSpec]]:
    """The named variants ``ibench bench`` measures: the paper's spec and the torchvision-compatible one (no
    ``path``), one spec file, or every variant of an ablation file; ``overrides`` applied to each."""
    if path is None:
        return [
            ("googlenet (paper)", resolve_spec("paper", overrides)),
            ("googlenet-torchvision spec", resolve_spec("torchvision", overrides)),
        ]
    from inception_bench.ablate.plan import is_ablation, variant_specs

    if str(path) not in MODELS and is_ablation(read_yaml(path)):
        return [(name, loaded.with_overrides(overrides)) for name, loaded in variant_specs(path)]
    loaded = resolve_spec(path, overrides)
    return [(display_path(loaded.path), loaded)]


# --------------------------------------------------------------------------------------------- measuring
def _peak_rss_mb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / 1024 if sys.platform != "darwin" else kb / 2**20


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def make_step(
    model: nn.Module, mode: str, settings: BenchSettings, device: torch.device, classes: int, aux_weight: float
) -> Callable[[int], None]:
    """A function running one complete step (forward, and for training backward + SGD) at a given batch."""
    autocast = autocast_for(device, settings.precision)
    fmt = torch.channels_last if settings.channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=fmt)
    runner = compiled(model, settings.compile, settings.compile_mode)
    optimizer = (
        torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9, fused=device.type == "cuda" or None)
        if mode == "train"
        else None
    )
    scaler = torch.amp.GradScaler("cuda", enabled=settings.precision == "fp16" and mode == "train")
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        if n not in cache:
            cache.clear()
            x = torch.randn(n, 3, settings.image_size, settings.image_size, device=device)
            cache[n] = (x.contiguous(memory_format=fmt), torch.randint(0, classes, (n,), device=device))
        return cache[n]

    def step(n: int) -> None:
        x, y = batch(n)
        if optimizer is None:
            model.eval()
            with autocast(), torch.inference_mode():
                runner(x)
            return
        model.train()
        train_step(runner, x, y, optimizer, scaler, autocast, aux_weight)

    return step


def measure(step: Callable[[int], None], settings: BenchSettings, device: torch.device) -> dict[str, Any]:
    """Time ``step`` at the settings' batch size, halving it on out-of-memory until it fits."""
    batch, note = settings.batch_size, ""
    while True:
        try:
            if device.type == "cuda":
                torch.cuda.empty_cache()
                torch.cuda.reset_peak_memory_stats(device)
            for _ in range(settings.warmup):
                step(batch)
            _sync(device)
            times = []
            for _ in range(settings.steps):
                t0 = time.perf_counter()
                step(batch)
                _sync(device)
                times.append(time.perf_counter() - t0)
            break
        except torch.OutOfMemoryError:
            if batch == 1:
                raise FieldError("batch_size", "out of memory even at batch 1", settings.batch_size) from None
            batch //= 2
            note = f"out of memory at batch {settings.batch_size}; backed off to {batch}"
    median = statistics.median(times)
    q = statistics.quantiles(times, n=4) if len(times) > 1 else [median, median, median]
    memory = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else _peak_rss_mb()
    return {"batch": batch, "median": median, "iqr": q[2] - q[0], "memory": memory, "note": note}


# ------------------------------------------------------------------------------------------------ running
def _convs_use_tf32() -> bool:
    """Whether cuDNN may run fp32 convolutions in TF32 (PyTorch's default), by the newer or the legacy setting."""
    setting = getattr(getattr(torch.backends.cudnn, "conv", None), "fp32_precision", "none")
    if setting in ("tf32", "ieee"):
        return setting == "tf32"
    try:
        return bool(torch.backends.cudnn.allow_tf32)
    except RuntimeError:  # newer torch refuses the legacy read when the new API was used
        return True


def _peak(device: torch.device, precision: str, override: float | None) -> float | None:
    if override:
        return override
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    if precision == "fp32" and not _convs_use_tf32():
        precision = "fp32-strict"
    for key, peaks in PEAK_TMACS.items():
        if key in name:
            return peaks[precision]
    return None


def _tv_counts(image_size: int) -> tuple[int, int]:
    """torchvision's googlenet in Table 1's conventions: the torchvision spec at this image size."""
    tv = totals(resolve_spec("torchvision", {"input_size": image_size}).spec)
    return tv.params, tv.macs


# A model to measure: name, factory, classes, params, MACs, aux loss weight.
Entry = tuple[str, Callable[[], nn.Module], int, int, int, float]


def bench(variants: list[tuple[str, LoadedSpec]], settings: BenchSettings, torchvision: bool = True) -> list[BenchRow]:
    """Benchmark each named variant (at ``settings.image_size``) and, unless told not to, torchvision's model."""
    with fields_of("bench"):
        return _bench(variants, settings, torchvision)


def _bench(variants: list[tuple[str, LoadedSpec]], settings: BenchSettings, torchvision: bool) -> list[BenchRow]:
    check_inductor(settings)
    device = resolve_device(settings.device)
    resolve_precision(settings.precision, device)
    prepare_device(device)
    modes = ["train", "infer"] if settings.mode == "both" else [settings.mode]
    peak = _peak(device, settings.precision, settings.peak_tmacs)
    date = datetime.date.today().isoformat()
    entries: list[Entry] = []
    for name, loaded in variants:
        spec = loaded.with_overrides({"input_size": settings.image_size}).spec
        counted = totals(spec)
        build_for_run(spec, s2d_stem=settings.s2d_stem, meta=True)  # refuse a spec before measuring any
        entries.append(
            (
                name,
                functools.partial(build_for_run, spec, settings.fuse_1x1, settings.s2d_stem),
                spec.num_classes,
                counted.params,
                counted.macs,
                spec.aux.loss_weight,
            )
        )
    if torchvision:
        import torchvision as tv

        params, macs = _tv_counts(settings.image_size)
        entries.append(
            (
                TORCHVISION,
                lambda: tv.models.googlenet(weights=None, aux_logits=True, init_weights=True),
                1000,
                params,
                macs,
                0.3,
            )
        )
    rows: list[BenchRow] = []
    with contextlib.ExitStack() as stack:
        if settings.inductor:
            from torch._inductor import config

            stack.enter_context(config.patch(settings.inductor))
        for mode in modes:
            rows += _measure_mode(mode, entries, settings, device, peak, date)
    return rows


def _measure_mode(
    mode: str, entries: list[Entry], settings: BenchSettings, device: torch.device, peak: float | None, date: str
) -> list[BenchRow]:
    """All entries in one mode; each row's ``vs_torchvision`` is against torchvision's row of this mode."""
    rows: list[BenchRow] = []
    baseline = None
    measured = []
    for name, factory, classes, params, macs, aux_weight in entries:
        torch.manual_seed(0)
        model = factory()
        step = make_step(model, mode, settings, device, classes, aux_weight)
        m = measure(step, settings, device)
        m["fused_1x1"] = bool(getattr(model, "fused_1x1", False))  # torchvision's model and naive modules: never
        m["s2d_stem"] = bool(getattr(model, "s2d_stem", False))
        ips = m["batch"] / m["median"]
        rate = (3 if mode == "train" else 1) * macs * ips / 1e12
        measured.append((name, m, ips, params, macs, rate))
        if name == TORCHVISION:
            baseline = ips
    for name, m, ips, params, macs, rate in measured:
        rows.append(
            BenchRow(
                model=name,
                mode=mode,
                device=device_name(device),
                precision=settings.precision,
                channels_last=settings.channels_last,
                compile=settings.compile,
                compile_mode=settings.compile_label(),
                fuse_1x1=m["fused_1x1"],
                s2d_stem=m["s2d_stem"],
                batch_size=m["batch"],
                image_size=settings.image_size,
                images_per_sec=ips,
                step_ms_median=1000 * m["median"],
                step_ms_iqr=1000 * m["iqr"],
                peak_memory_mb=m["memory"],
                params=params,
                macs=macs,
                tmacs_per_sec=rate,
                peak_fraction=rate / peak if peak else None,
                vs_torchvision=ips / baseline if baseline else None,
                note=m["note"],
                torch_version=str(torch.__version__),
                date=date,
            )
        )
    return rows


def append_rows(rows: list[BenchRow], path: Path) -> None:
    """Append to a CSV (or JSON list) file, atomically; the file keeps earlier benchmarks."""
    import json

    import pandas as pd

    from inception_bench.results import atomic_write_text, read_json

    new = [asdict(r) for r in rows]
    if path.suffix == ".json":
        hint = "give a new output file or one written by `ibench bench`"
        old = read_json(path, hint).get("rows", []) if path.exists() else []
        if not isinstance(old, list):
            raise IbenchError(f"{path}: not an `ibench bench` JSON file ('rows' is not a list); {hint}")
        atomic_write_text(path, json.dumps({"rows": old + new}, indent=2) + "\n")
        return
    frame = pd.DataFrame(new)
    if path.exists():
        try:
            frame = pd.concat([pd.read_csv(path), frame], ignore_index=True)
        except (OSError, ValueError) as e:
            raise IbenchError(f"{path}: cannot append to it ({' '.join(str(e).split())[:120]})") from None
    atomic_write_text(path, frame.to_csv(index=False))


COLUMNS = [
    ("model", "model"),
    ("mode", "mode"),
    ("setup", "setup"),
    ("batch_size", "batch"),
    ("images_per_sec", "img/s"),
    ("step_ms_median", "step ms"),
    ("step_ms_iqr", "IQR ms"),
    ("peak_memory_mb", "peak MiB"),
    ("params", "params"),
    ("macs", "MACs"),
    ("tmacs_per_sec", "TMAC/s"),
    ("peak_fraction", "of peak"),
    ("vs_torchvision", "vs tv"),
    ("note", "note"),
]


def setup_label(row: dict[str, Any]) -> str:
    """A row's settings in words, e.g. ``bf16 + channels_last + fused 1x1 + compile (reduce-overhead)``."""
    parts = [str(row.get("precision"))]
    if str(row.get("channels_last")) == "True":
        parts.append("channels_last")
    if str(row.get("fuse_1x1")) == "True":  # older CSVs have no such column
        parts.append("fused 1x1")
    if str(row.get("s2d_stem")) == "True":
        parts.append("s2d stem")
    if str(row.get("compile")) == "True":
        mode = row.get("compile_mode")
        parts.append("compile" + (f" ({mode})" if isinstance(mode, str) and mode not in ("", "default") else ""))
    return " + ".join(parts)


def table_rows(rows: list[dict[str, Any]]) -> list[list[str]]:
    """Rows (``BenchRow`` fields, from this run or a CSV) as the cells of ``COLUMNS``."""
    return [[setup_label(r) if k == "setup" else format_cell(k, r.get(k)) for k, _ in COLUMNS] for r in rows]


def format_cell(key: str, value: Any) -> str:
    if value is None or value == "":
        return ""
    if key in ("params",):
        return f"{value:,}"
    if key == "macs":
        return f"{value / 1e9:.3f}G"
    if key in ("images_per_sec", "peak_memory_mb"):
        return f"{value:,.0f}"
    if key in ("step_ms_median", "step_ms_iqr"):
        return f"{value:.1f}"
    if key == "tmacs_per_sec":
        return f"{value:.3f}"
    if key == "peak_fraction":
        return f"{value:.1%}"
    if key == "vs_torchvision":
        return f"{value:.2f}x"
    return str(value)


def rich_table(rows: list[BenchRow]) -> Any:
    """The rows as a rich table for the terminal, titled with the device, image size and torch version."""
    from rich.table import Table

    first = rows[0]
    table = Table(
        *[label for _, label in COLUMNS], title=f"{first.device}, {first.image_size}px, torch {first.torch_version}"
    )
    for cells in table_rows([asdict(r) for r in rows]):
        table.add_row(*cells)
    return table


def rows_json(rows: list[BenchRow]) -> str:
    import json

    return json.dumps([asdict(r) for r in rows], indent=2) + "\n"


def rows_csv(rows: list[BenchRow]) -> str:
    import pandas as pd

    return str(pd.DataFrame([asdict(r) for r in rows]).to_csv(index=False))
