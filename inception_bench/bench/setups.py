"""What ``ibench bench`` measures and reports: the setups (how a step runs), the rows (one per model, mode and
setup), the baseline's name and the devices' peak rates. Conventions: :mod:`inception_bench.bench` (the package)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import torch

from inception_bench.bench.settings import BenchSettings
from inception_bench.errors import FieldError
from inception_bench.run.engine import (
    resolve_precision,
)

# Dense peak multiply-add rates (10^12 MAC/s = half the vendor's TFLOPS) of common GPUs, by precision, first
# match of the device name wins. "fp32" is the TF32 tensor-core peak, since cuDNN runs fp32 convolutions in TF32
# unless torch.backends.cudnn.allow_tf32 is off; "fp32-strict" (plain fp32 units) applies then.
PEAK_TMACS = {
    "H100 PCIe": {"bf16": 378.0, "fp16": 378.0, "fp32": 189.0, "fp32-strict": 25.6},  # 756 TFLOPS bf16 dense
    "H100": {"bf16": 494.7, "fp16": 494.7, "fp32": 247.4, "fp32-strict": 33.5},  # SXM: 989 bf16, 495 tf32, 67 fp32
    "H200": {"bf16": 494.7, "fp16": 494.7, "fp32": 247.4, "fp32-strict": 33.5},
    "A100": {"bf16": 156.0, "fp16": 156.0, "fp32": 78.0, "fp32-strict": 9.75},
}
TORCHVISION = "torchvision googlenet"  # the baseline's name in rows (torchvision_name("googlenet"))


def torchvision_name(arch: str) -> str:
    """The row name of torchvision's model ``arch`` (a spec's ``torchvision_model``): ``torchvision inception_v3``."""
    return f"torchvision {arch}"


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
    runtime: str = "torch"  # or onnxruntime (the model exported to ONNX) | openvino (converted): eager by nature

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
OPENVINO_FP32 = Setup("fp32", channels_last=False, compile=False, runtime="openvino")  # its precision hint f32
OPENVINO_BF16 = Setup("bf16", channels_last=False, compile=False, runtime="openvino")  # its precision hint bf16


@dataclass
class BenchRow:
    model: str
    mode: str
    device: str
    runtime: str  # torch | onnxruntime (the model exported to ONNX) | openvino (converted by OpenVINO)
    precision: str
    channels_last: bool
    compile: bool
    compile_mode: str  # "" when not compiled
    fuse_1x1: bool  # whether 1x1 convolutions ran fused (never for torchvision's model or naive modules)
    s2d_stem: bool  # whether conv1 ran on space-to-depth blocks (never for torchvision's model)
    role: str  # "fast" (the settings' setup) | "eager" (a compiled setup's eager twin) | "baseline" (fp32 eager)
    #            | the runtime's name (onnxruntime, openvino) for a row of another runtime
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
    vs_torchvision: float | None  # images/s over the spec's torchvision twin, ``reference`` (fp32 eager, or same setup)
    vs_torchvision_lo: float | None
    vs_torchvision_hi: float | None
    note: str
    torch_version: str
    date: str
    reference: str = TORCHVISION  # the torchvision model vs_torchvision compares with (the spec's twin)
