"""``ibench bench``: throughput and memory of spec variants, with torchvision's googlenet measured alongside, each
in the fast path and against a baseline measured in the same command.

Conventions
-----------
- A *setup* is how a step runs: autocast precision, memory layout, ``torch.compile`` (and inductor settings), the
  execution options ``fuse_1x1`` and ``s2d_stem``. The *fast path* is the settings' setup; its defaults are
  precision ``auto`` (bf16 on CUDA and on CPUs with native bf16 matrix support), channels_last, and compile
  ``auto`` (:meth:`BenchSettings.compile_for`: inference compiled on the CPU with inductor freezing).
- The *baseline* (``baseline="fp32-eager"``, the default) is each model run in fp32, eager, contiguous layout,
  without execution options, measured in the same command: every model's row says how much faster its fast path
  is (``vs_fp32_eager``), and torchvision's ``googlenet(weights=None)`` in that setup is what ``vs_torchvision``
  compares against. ``baseline="same"`` compares with torchvision's model in the fast path instead (cheaper).
- A compiled setup is also measured eager (its *eager twin*): ``compile_gain`` is eager time / compiled time, and a
  compile that does not pay says so in ``note``. ``compile_s`` is the first step's time less a steady step's:
  the compilation, reported apart from the steady-state step time.
- Interleaved rounds: every setup first runs ``warmup`` untimed steps (at least one: the first compiles and
  finds a batch that fits), then ``rounds`` times in turn (A, B, C, then C, B, A, ...) ``steps`` timed steps
  each, so that the slow drift of a shared machine falls on all setups alike. Every step ends with a device
  synchronisation.
- Reported: median step time over all timed steps, its interquartile range, images/s = batch / median step time;
  each ratio is the median over rounds of the per-round ratio of images/s, with its range over rounds
  (``*_lo``, ``*_hi``).
- ``train`` steps are forward + loss (aux heads included, weighted as the spec says) + backward + SGD step
  (:func:`~inception_bench.run.engine.train_step`); ``infer`` steps are a forward pass in eval mode under
  ``torch.inference_mode``. ``detail`` splits training steps into forward (with the loss), backward and optimizer
  time, each phase ended by a device synchronisation (as timm's benchmark does).
- MACs are the network's multiply-adds per image at the benchmark's image size (``ibench count``
  conventions). The achieved multiply-add rate is MACs x images/s for inference and 3 x MACs x images/s for
  training (the backward pass costs about twice the forward), in 10^12 MAC/s; ``peak_fraction`` divides it
  by the device's dense peak for the precision when known (``--peak-tmacs`` or the table below).
- Memory (``step_memory_mb``): on CUDA, the most memory a setup's steps allocated beyond what was allocated
  before them (activations, gradients, workspaces; all setups' weights and optimizer states stay resident and are
  not counted); not measured on the CPU (the process's peak RSS says nothing about one setup).
- A batch that runs out of memory is stepped down gradually (:func:`decay_batch_step`: 64, 48, 32, 24, ...)
  until it fits, and then every setup runs the largest batch all of them fit, so that ratios compare equal work;
  the rows say so (``note``). A compile that fails under compile auto (no C++ compiler) is measured eager and says
  so.
"""

from __future__ import annotations

import datetime
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import nn

from inception_bench.count import totals
from inception_bench.errors import FieldError, IbenchError, fields_of, one_line
from inception_bench.models import resolve_spec
from inception_bench.progress import ProgressMode, step_progress
from inception_bench.run.engine import (
    autocast_for,
    build_for_run,
    compiled,
    device_name,
    precision_reason,
    prepare_device,
    resolve_device,
    resolve_precision,
    train_step,
)
from inception_bench.run.settings import BenchSettings
from inception_bench.spec import LoadedSpec

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

PHASES = ("forward", "backward", "optimizer")  # of a training step, as --detail splits it


def check_inductor(settings: BenchSettings) -> None:
    """Each ``inductor`` key must be a torch._inductor.config setting, booleans given as booleans."""
    from torch._inductor import config

    current = config.get_config_copy()
    for key, value in settings.inductor.items():
        if key not in current:
            raise FieldError("inductor", "not a torch._inductor.config setting (e.g. freezing=true)", f"{key}={value}")
        if isinstance(current[key], bool) and not isinstance(value, bool):
            raise FieldError("inductor", f"{key} takes true or false", f"{key}={value}")


@dataclass(frozen=True)
class Setup:
    """How a step runs. ``precision`` is resolved (fp32 | bf16 | fp16); ``inductor`` applies when compiled."""

    precision: str
    channels_last: bool
    compile: bool
    compile_mode: str = "default"
    inductor: tuple[tuple[str, Any], ...] = ()
    fuse_1x1: bool = False
    s2d_stem: bool = False
    runtime: str = "torch"  # or onnxruntime: the model exported to ONNX (fp32, contiguous, eager by nature)

    @classmethod
    def fast(cls, settings: BenchSettings, mode: str, device: torch.device) -> Setup:
        """The settings' setup for steps of ``mode`` on ``device`` (auto precision and compile resolved)."""
        compile = settings.compile_for(mode, device.type)
        return cls(
            precision=resolve_precision(settings.precision, device),
            channels_last=settings.channels_last,
            compile=compile,
            compile_mode=settings.compile_mode if compile else "default",
            inductor=tuple(sorted(settings.inductor_for(mode, device.type).items())) if compile else (),
            fuse_1x1=settings.fuse_1x1,
            s2d_stem=settings.s2d_stem,
        )

    def eager(self) -> Setup:
        return replace(self, compile=False, compile_mode="default", inductor=())

    def compile_label(self) -> str:
        """A row's ``compile_mode``: the mode, then any inductor settings ("" when not compiled)."""
        if not self.compile:
            return ""
        extra = ", ".join(f"{k}={v}" for k, v in self.inductor)
        return self.compile_mode + (f"; {extra}" if extra else "")


FP32_EAGER = Setup("fp32", channels_last=False, compile=False)  # the baseline: fp32, eager, contiguous layout
ONNXRUNTIME = Setup("fp32", channels_last=False, compile=False, runtime="onnxruntime")


@dataclass
class BenchRow:
    model: str
    mode: str
    device: str
    runtime: str  # torch | onnxruntime (the model exported to ONNX)
    precision: str
    channels_last: bool
    compile: bool
    compile_mode: str  # "" when not compiled
    fuse_1x1: bool  # whether 1x1 convolutions ran fused (never for torchvision's model or naive modules)
    s2d_stem: bool  # whether conv1 ran on space-to-depth blocks (never for torchvision's model)
    role: str  # "fast" (the settings' setup) | "eager" (a compiled setup's eager twin) | "baseline" (fp32 eager)
    batch_size: int
    image_size: int
    images_per_sec: float
    step_ms_median: float
    step_ms_iqr: float
    rounds: int
    forward_ms: float | None  # --detail, training: median time of each phase
    backward_ms: float | None
    optimizer_ms: float | None
    compile_s: float | None  # the first step's time less the median step's (compiled setups)
    compile_gain: float | None  # eager twin's step time / this compiled step time (median over rounds)
    step_memory_mb: float | None  # CUDA: the most a step allocated beyond what was resident; CPU: not measured
    params: int
    macs: int
    tmacs_per_sec: float
    peak_fraction: float | None
    vs_fp32_eager: float | None  # images/s over the same model's fp32 eager baseline (median over rounds)
    vs_fp32_eager_lo: float | None  # ... its range over rounds
    vs_fp32_eager_hi: float | None
    vs_torchvision: float | None  # images/s over torchvision's googlenet (fp32 eager, or the same setup)
    vs_torchvision_lo: float | None
    vs_torchvision_hi: float | None
    note: str
    torch_version: str
    date: str


# --------------------------------------------------------------------------------------------- measuring
def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


Step = Callable[[int, Callable[[str], None] | None], None]  # (batch, phase mark or None)


def make_step(
    model: nn.Module,
    mode: str,
    setup: Setup,
    device: torch.device,
    classes: int,
    aux_weight: float,
    image_size: int,
) -> Step:
    """A function running one complete step (forward, and for training backward + SGD) at a given batch; a
    training step calls ``mark(phase)`` after each phase when given one."""
    autocast = autocast_for(device, setup.precision)
    fmt = torch.channels_last if setup.channels_last else torch.contiguous_format
    model = model.to(device).to(memory_format=fmt)
    runner = compiled(model, setup.compile, setup.compile_mode, dynamic=False)
    optimizer = (
        torch.optim.SGD(
            model.parameters(), lr=1e-3, momentum=0.9, nesterov=True, fused=device.type == "cuda" or None
        )  # ibench train's optimizer (its default recipe)
        if mode == "train"
        else None
    )
    scaler = torch.amp.GradScaler("cuda", enabled=setup.precision == "fp16" and mode == "train")
    cache: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        if n not in cache:
            cache.clear()
            x = torch.randn(n, 3, image_size, image_size, device=device)
            cache[n] = (x.contiguous(memory_format=fmt), torch.randint(0, classes, (n,), device=device))
        return cache[n]

    def step(n: int, mark: Callable[[str], None] | None = None) -> None:
        x, y = batch(n)
        if optimizer is None:
            model.eval()
            with autocast(), torch.inference_mode():
                runner(x)
            return
        model.train()
        train_step(runner, x, y, optimizer, scaler, autocast, aux_weight, mark)  # no clipping: as timm times it

    return step


def onnxruntime_step(model: nn.Module, image_size: int) -> Step:
    """An inference step of ``model`` exported to ONNX and run by onnxruntime on the CPU with torch's intra-op
    thread count, its threads not spinning between steps (the torch setups share the cores); the batch is free."""
    from inception_bench.evaluate.export import onnx_session, write_onnx

    with tempfile.TemporaryDirectory(prefix="ibench-onnx-") as folder, torch.no_grad():
        path = Path(folder) / "model.onnx"  # onnxruntime holds the model in memory: the file goes with the folder
        try:
            write_onnx(model.eval(), path, torch.randn(2, 3, image_size, image_size))
        except Exception as e:  # torch's exporter fails with many types: one line, the option named
            why = f"the model does not export to ONNX ({one_line(e, 200)})"
            raise FieldError("runtime", why, "onnxruntime") from None
        session = onnx_session(path, threads=torch.get_num_threads())
    name = session.get_inputs()[0].name
    cache: dict[int, Any] = {}

    def step(n: int, mark: Callable[[str], None] | None = None) -> None:
        if n not in cache:
            cache.clear()
            cache[n] = torch.randn(n, 3, image_size, image_size).numpy()
        session.run(None, {name: cache[n]})

    return step


def decay_batch_step(batch: int) -> int:
    """The next smaller batch to try after running out of memory: the largest number of the form 2^k or 3 x 2^k
    below ``batch`` (64 -> 48 -> 32 -> 24 -> 16 -> 12 -> 8 -> 6 -> 4 -> 3 -> 2 -> 1), so a batch that nearly fits
    loses a quarter or a third, not half (timm's ``decay_batch_step`` with two steps per halving)."""
    if batch <= 1:
        raise ValueError("no batch below 1")
    candidates = [1]
    k = 1
    while k < batch:
        candidates += [k, 3 * k // 2] if k >= 2 else [k]
        k *= 2
    return max(c for c in candidates if c < batch)


@dataclass
class Model:
    """A model to measure: its name, how to build it for a setup, its classes, counts and aux loss weight."""

    name: str
    build: Callable[[Setup], nn.Module]
    classes: int
    params: int
    macs: int
    aux_weight: float
    options: bool = True  # whether the execution options (fuse_1x1, s2d_stem) apply; torchvision's model runs as is

    def runs(self, setup: Setup) -> Setup:
        """The setup this model actually runs in."""
        return setup if self.options else replace(setup, fuse_1x1=False, s2d_stem=False)


@dataclass
class Case:
    """One model in one setup: its step, the batch that fit, and what its rounds measured (seconds)."""

    model: Model
    setup: Setup
    role: str
    step: Step
    fused_1x1: bool
    s2d_stem: bool
    batch: int = 0
    first_s: float = 0.0
    note: str = ""
    rounds: list[list[float]] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=dict)
    memory_mb: float | None = None

    def inductor(self) -> AbstractContextManager[Any]:
        """The setup's inductor settings while its steps run (they apply when it compiles or recompiles; an eager
        setup has none)."""
        from torch._inductor import config

        return config.patch(dict(self.setup.inductor))

    def ips(self, round_index: int) -> float:
        """Images/s of one round (its median step)."""
        return self.batch / statistics.median(self.rounds[round_index])

    def times(self) -> list[float]:
        return [t for r in self.rounds for t in r]


def warm_up(case: Case, batch: int, warmup: int, device: torch.device) -> None:
    """The first step (timed: it compiles), then the other warm-up steps, stepping the batch down on
    out-of-memory until it fits."""
    requested = batch
    while True:
        try:
            with case.inductor():
                t0 = time.perf_counter()
                case.step(batch, None)
                _sync(device)
                case.first_s = time.perf_counter() - t0
                for _ in range(warmup - 1):
                    case.step(batch, None)
                _sync(device)
            case.batch = batch
            return
        except torch.OutOfMemoryError:
            if batch == 1:
                raise FieldError("batch_size", "out of memory even at batch 1", requested) from None
        batch = decay_batch_step(batch)  # outside the except block: its traceback no longer holds the tensors
        case.note = f"out of memory at batch {requested}; stepped down to {batch}"
        if device.type == "cuda":
            torch.cuda.empty_cache()


def run_round(case: Case, steps: int, device: torch.device, detail: bool) -> None:
    """``steps`` timed steps of one case; with ``detail``, the phases of each training step too. On CUDA, the
    most memory its steps allocated beyond what was allocated before them."""
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
        resident = torch.cuda.memory_allocated(device)
    times: list[float] = []
    last = [0.0]

    def mark(phase: str) -> None:
        _sync(device)
        now = time.perf_counter()
        case.phases.setdefault(phase, []).append(now - last[0])
        last[0] = now

    try:
        with case.inductor():
            for _ in range(steps):
                t0 = last[0] = time.perf_counter()
                case.step(case.batch, mark if detail else None)
                _sync(device)
                times.append(time.perf_counter() - t0)
    except torch.OutOfMemoryError:
        why = f"out of memory in {case.model.name}'s steps at batch {case.batch} once every setup was built"
        raise FieldError("batch_size", why + "; use a smaller one", case.batch) from None
    case.rounds.append(times)
    if device.type == "cuda":
        step_mb = (torch.cuda.max_memory_allocated(device) - resident) / 2**20
        case.memory_mb = max(case.memory_mb or 0.0, step_mb)


def prepare(
    cases: list[Case],
    settings: BenchSettings,
    device: torch.device,
    remake: Callable[[Case], Case],
    done: Callable[[], None] = lambda: None,
) -> None:
    """Warm every case up (calling ``done`` after each), then bring them to one batch (the largest every case
    fits), so that ratios compare equal work. A compile that fails under compile auto (no C++ compiler, say) is
    measured eager instead and says so; under an explicit ``--compile`` it is an error."""
    warmup = max(1, settings.warmup)
    for i, case in enumerate(cases):
        try:
            warm_up(case, settings.batch_size, warmup, device)
        except torch._dynamo.exc.BackendCompilerFailed as e:
            why = " ".join(str(e).split())[:160]
            if settings.compile is not None:
                raise FieldError("compile", f"torch.compile failed ({why}); leave compile off", True) from None
            cases[i] = remake(case)
            warm_up(cases[i], settings.batch_size, warmup, device)
            cases[i].note = _join(cases[i].note, f"compile (auto) failed, measured eager: {why}")
        done()
    common = min(case.batch for case in cases)
    for case in cases:
        if case.batch != common:
            warm_up(case, common, warmup, device)
            case.note = _join(case.note, f"run at batch {common}, the largest every setup here fits")


def _join(*notes: str) -> str:
    return "; ".join(n for n in notes if n)


def interleave(
    cases: list[Case], settings: BenchSettings, device: torch.device, done: Callable[[], None] = lambda: None
) -> None:
    """The rounds: A, B, C, then C, B, A, and so on (cases warmed up first, :func:`prepare`); ``done`` is called
    after each case's round."""
    for r in range(settings.rounds):
        for case in cases if r % 2 == 0 else reversed(cases):
            run_round(case, settings.steps, device, settings.detail)
            done()


def ratio(case: Case, reference: Case | None) -> tuple[float | None, float | None, float | None]:
    """Images/s of ``case`` over ``reference``: the median of the per-round ratios, and their range."""
    if reference is None:
        return None, None, None
    per_round = [case.ips(r) / reference.ips(r) for r in range(len(case.rounds))]
    return statistics.median(per_round), min(per_round), max(per_round)


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


def _models(variants: list[tuple[str, LoadedSpec]], settings: BenchSettings, torchvision: bool) -> list[Model]:
    models: list[Model] = []
    for name, loaded in variants:
        spec = loaded.with_overrides({"input_size": settings.image_size}).spec
        counted = totals(spec)
        build_for_run(spec, s2d_stem=settings.s2d_stem, meta=True)  # refuse a spec before measuring any

        def build(setup: Setup, spec: Any = spec) -> nn.Module:
            return build_for_run(spec, setup.fuse_1x1, setup.s2d_stem)

        models.append(Model(name, build, spec.num_classes, counted.params, counted.macs, spec.aux.loss_weight))
    if torchvision:
        import torchvision as tv

        params, macs = _tv_counts(settings.image_size)

        def build_tv(setup: Setup) -> nn.Module:  # run as it is, whatever the execution options
            return tv.models.googlenet(weights=None, aux_logits=True, init_weights=True)

        models.append(Model(TORCHVISION, build_tv, 1000, params, macs, 0.3, options=False))
    return models


def bench(
    variants: list[tuple[str, LoadedSpec]],
    settings: BenchSettings,
    torchvision: bool = True,
    say: Callable[[str], None] = lambda _: None,
    progress: str = ProgressMode.none,
) -> list[BenchRow]:
    """Benchmark each named variant (at ``settings.image_size``) and, unless told not to, torchvision's model,
    in the fast path and its baselines (module docstring). ``say`` receives progress lines; ``progress`` (a
    :class:`~inception_bench.progress.ProgressMode`) shows the warm-ups and rounds of each mode."""
    with fields_of("bench"):
        check_inductor(settings)
        device = resolve_device(settings.device)
        if settings.runtime == "onnxruntime":
            from inception_bench.evaluate.export import needs_onnx

            if device.type != "cpu":
                raise FieldError("runtime", "onnxruntime runs on the CPU here; add --device cpu", settings.runtime)
            needs_onnx("runtime", settings.runtime)
        precision = resolve_precision(settings.precision, device)
        prepare_device(device)
        say(f"{device_name(device)}: precision {precision_reason(settings.precision, precision, device)}")
        models = _models(variants, settings, torchvision)
        modes = ["train", "infer"] if settings.mode == "both" else [settings.mode]
        rows: list[BenchRow] = []
        # every model instance is a new dynamo frame guard: room for all of them (and their OOM step-downs)
        limit = max(torch._dynamo.config.recompile_limit, 16 * len(models))
        with torch._dynamo.config.patch(recompile_limit=limit):
            for mode in modes:
                fast = Setup.fast(settings, mode, device)
                auto = " (auto)" if settings.compile is None else ""
                say(f"{mode}: {setup_label(asdict(fast))}{auto}, {settings.rounds} interleaved rounds")
                rows += _measure_mode(mode, models, settings, device, progress)
        return rows


def _case(model: Model, setup: Setup, role: str, mode: str, settings: BenchSettings, device: torch.device) -> Case:
    torch.manual_seed(0)
    net = model.build(setup)
    if setup.runtime == "onnxruntime":
        step = onnxruntime_step(net, settings.image_size)
    else:
        step = make_step(net, mode, setup, device, model.classes, model.aux_weight, settings.image_size)
    fused = bool(getattr(net, "fused_1x1", False))  # torchvision's model and naive modules: never
    return Case(model, setup, role, step, fused, bool(getattr(net, "s2d_stem", False)))


def _cases(mode: str, models: list[Model], settings: BenchSettings, device: torch.device) -> list[Case]:
    """Each model in the fast setup, then its eager twin when compiled, then its fp32 eager baseline; a setup a
    model would run twice (torchvision's model ignores the execution options) is measured once."""
    fast = Setup.fast(settings, mode, device)
    setups = [(fast, "fast")] + [(fast.eager(), "eager")] * fast.compile
    if settings.baseline == "fp32-eager":
        setups.append((FP32_EAGER, "baseline"))
    if settings.runtime == "onnxruntime":
        setups.append((ONNXRUNTIME, "onnxruntime"))
    cases = []
    for model in models:
        done: list[Setup] = []
        for setup, role in setups:
            if model.runs(setup) not in done:
                done.append(model.runs(setup))
                cases.append(_case(model, model.runs(setup), role, mode, settings, device))
    return cases


def _measure_mode(
    mode: str, models: list[Model], settings: BenchSettings, device: torch.device, progress: str = ProgressMode.none
) -> list[BenchRow]:
    """All models in one mode, their setups interleaved; ratios within this mode."""
    cases = _cases(mode, models, settings, device)

    def remake(case: Case) -> Case:  # the case measured eager (its compile failed)
        return _case(case.model, case.setup.eager(), case.role, mode, settings, device)

    compiling = any(case.setup.compile for case in cases)  # the first warm-ups then take a while, unmoving
    label = f"{mode}: warm-ups{' (compiling first)' if compiling else ''} and rounds"
    with step_progress(label, len(cases) * (1 + settings.rounds), progress) as advance:
        prepare(cases, settings, device, remake, lambda: advance(0))
        interleave(cases, settings, device, lambda: advance(0))
    date = datetime.date.today().isoformat()

    def model_case(model: str, setup: Setup) -> Case | None:
        """The case of ``model`` that ran ``setup`` (the fp32 eager baseline may be its fast setup itself)."""
        return next((c for c in cases if c.model.name == model and c.setup == setup), None)

    def torchvision_reference(case: Case) -> Case | None:
        if settings.baseline == "fp32-eager":
            return model_case(TORCHVISION, FP32_EAGER)
        return next((c for c in cases if c.model.name == TORCHVISION and c.role == case.role), None)

    detail_note = "phases timed with a sync after each, which idles the GPU" if settings.detail else ""
    rows = []
    for case in cases:
        median = statistics.median(case.times())
        q = statistics.quantiles(case.times(), n=4) if len(case.times()) > 1 else [median] * 3
        ips = case.batch / median
        rate = (3 if mode == "train" else 1) * case.model.macs * ips / 1e12
        peak = _peak(device, case.setup.precision, settings.peak_tmacs)
        own = ratio(case, model_case(case.model.name, FP32_EAGER)) if settings.baseline == "fp32-eager" else (None,) * 3
        tv = ratio(case, torchvision_reference(case))
        twin = model_case(case.model.name, case.setup.eager()) if case.setup.compile else None
        gain = ratio(case, twin)[0]
        note = case.note
        if gain is not None and gain < 1:
            note = _join(note, f"compile does not pay here: {gain:.2f}x its eager twin's images/s")
        if device.type == "cuda" and mode == "train":
            note = _join(note, detail_note)
        phases = {p: 1000 * statistics.median(case.phases[p]) if p in case.phases else None for p in PHASES}
        rows.append(
            BenchRow(
                model=case.model.name,
                mode=mode,
                device=device_name(device),
                runtime=case.setup.runtime,
                precision=case.setup.precision,
                channels_last=case.setup.channels_last,
                compile=case.setup.compile,
                compile_mode=case.setup.compile_label(),
                fuse_1x1=case.fused_1x1,
                s2d_stem=case.s2d_stem,
                role=case.role,
                batch_size=case.batch,
                image_size=settings.image_size,
                images_per_sec=ips,
                step_ms_median=1000 * median,
                step_ms_iqr=1000 * (q[2] - q[0]),
                rounds=settings.rounds,
                forward_ms=phases["forward"],
                backward_ms=phases["backward"],
                optimizer_ms=phases["optimizer"],
                compile_s=max(0.0, case.first_s - median) if case.setup.compile else None,
                compile_gain=gain,
                step_memory_mb=case.memory_mb,
                params=case.model.params,
                macs=case.model.macs,
                tmacs_per_sec=rate,
                peak_fraction=rate / peak if peak else None,
                vs_fp32_eager=own[0],
                vs_fp32_eager_lo=own[1],
                vs_fp32_eager_hi=own[2],
                vs_torchvision=tv[0],
                vs_torchvision_lo=tv[1],
                vs_torchvision_hi=tv[2],
                note=note,
                torch_version=str(torch.__version__),
                date=date,
            )
        )
    return rows


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
    parts = ["onnxruntime"] * (row.get("runtime") == "onnxruntime") + [str(row.get("precision"))]
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
