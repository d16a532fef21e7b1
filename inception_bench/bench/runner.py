"""A whole ``ibench bench``: the models and their cases, the device and its peak rate, each mode measured, the
rows assembled (:func:`bench`)."""

from __future__ import annotations

import datetime
import statistics
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import torch
from torch import nn

from inception_bench.bench.measure import Case, Model, interleave, join_notes, prepare, ratio
from inception_bench.bench.rows import setup_label
from inception_bench.bench.settings import BenchSettings
from inception_bench.bench.setups import (
    FP32_EAGER,
    ONNXRUNTIME,
    OPENVINO_BF16,
    OPENVINO_FP32,
    PEAK_TMACS,
    PHASES,
    BenchRow,
    Setup,
    check_inductor,
    torchvision_name,
)
from inception_bench.bench.steps import make_step, needs_openvino, onnxruntime_step, openvino_bf16, openvino_step
from inception_bench.count import totals
from inception_bench.errors import FieldError, fields_of
from inception_bench.models import resolve_spec
from inception_bench.progress import ProgressMode, step_progress
from inception_bench.run.engine import (
    build_for_run,
    device_name,
    precision_reason,
    prepare_device,
    resolve_device,
    resolve_precision,
)
from inception_bench.spec import LoadedSpec


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


# torchvision's models that a spec can name as its twin (Spec.torchvision_model): the spec of ours that counts it
# (Table 1's conventions) and the aux loss weight of its training recipe
_TWINS = {"googlenet": ("torchvision", 0.3), "inception_v3": ("inception-v3", 0.4)}


def _tv_model(arch: str, image_size: int) -> Model:
    """torchvision's ``arch`` (``weights=None``, aux heads on), counted by the spec that is its twin."""
    import torchvision as tv

    spec_name, aux_weight = _TWINS[arch]
    # counted without aux heads (the counts leave them out anyway), so that an inference bench below the size the
    # heads need (inception_v3's 5x5 conv needs 299 px) can still count it
    counted = totals(resolve_spec(spec_name, {"input_size": image_size, "aux.enabled": False}).spec)

    def build(setup: Setup) -> nn.Module:  # run as it is, whatever the execution options
        return getattr(tv.models, arch)(weights=None, aux_logits=True, init_weights=True)

    name = torchvision_name(arch)
    return Model(name, build, 1000, counted.params, counted.macs, aux_weight, options=False, reference=name)


# A model to measure: name, factory, classes, params, MACs, aux loss weight, the torchvision model it compares with.


def _models(variants: list[tuple[str, LoadedSpec]], settings: BenchSettings, torchvision: bool) -> list[Model]:
    models: list[Model] = []
    for name, loaded in variants:
        spec = loaded.with_overrides({"input_size": settings.image_size}).spec
        counted = totals(spec)
        build_for_run(spec, s2d_stem=settings.s2d_stem, meta=True)  # refuse a spec before measuring any

        def build(setup: Setup, spec: Any = spec) -> nn.Module:
            return build_for_run(spec, setup.fuse_1x1, setup.s2d_stem)

        reference = torchvision_name(spec.torchvision_model)
        aux = spec.aux.loss_weight
        models.append(Model(name, build, spec.num_classes, counted.params, counted.macs, aux, True, reference))
    if torchvision:  # each torchvision twin the variants name (googlenet for the GoogLeNet specs), once
        for arch in dict.fromkeys(loaded.spec.torchvision_model for _, loaded in variants):
            models.append(_tv_model(arch, settings.image_size))
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
        if settings.runtime != "torch" and device.type != "cpu":
            raise FieldError("runtime", f"{settings.runtime} runs on the CPU here; add --device cpu", settings.runtime)
        if settings.runtime == "onnxruntime":
            from inception_bench.evaluate.export import needs_onnx

            needs_onnx("runtime", settings.runtime)
        if settings.runtime == "openvino":
            needs_openvino()
            if not openvino_bf16():
                say("openvino: this CPU has no bf16 support that OpenVINO uses; its f32 hint only")
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
    elif setup.runtime == "openvino":
        step = openvino_step(net, settings.image_size, setup.precision)
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
    if settings.runtime == "openvino":
        setups += [(OPENVINO_FP32, "openvino")] + [(OPENVINO_BF16, "openvino")] * openvino_bf16()
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
            return model_case(case.model.reference, FP32_EAGER)
        same = [c for c in cases if c.model.name == case.model.reference and c.role == case.role]
        return next((c for c in same if c.setup.precision == case.setup.precision), None)  # openvino: f32, bf16

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
            note = join_notes(note, f"compile does not pay here: {gain:.2f}x its eager twin's images/s")
        if device.type == "cuda" and mode == "train":
            note = join_notes(note, detail_note)
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
                reference=case.model.reference,
            )
        )
    return rows
