"""How ``ibench bench`` measures: :class:`BenchSettings`, validated once whoever fills it in (the CLI's options or
Python code), with the run's execution settings it shares (:class:`~inception_bench.run.settings.ExecutionSettings`).

Nothing here imports torch.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from inception_bench.run.settings import ExecutionSettings, Precision


class BenchMode(StrEnum):
    train = "train"
    infer = "infer"
    both = "both"


class Baseline(StrEnum):
    fp32_eager = "fp32-eager"
    same = "same"


class Runtime(StrEnum):
    torch = "torch"
    onnxruntime = "onnxruntime"
    openvino = "openvino"


class BenchSettings(ExecutionSettings):
    """How ``ibench bench`` measures (see :mod:`inception_bench.bench` for what it reports). The defaults are the
    fast path: autocast precision ``auto``, channels_last, and ``compile`` left to :func:`compile_for`."""

    mode: BenchMode = Field(BenchMode.both, validate_default=True, description="train | infer | both")
    batch_size: int = Field(64, ge=1, description="images per step (stepped down on out-of-memory)")
    image_size: int = Field(224, ge=8, description="square image side (sets the specs' input_size)")
    precision: Precision = Field(
        Precision.auto,
        validate_default=True,
        description="autocast precision: auto (as ibench train) | fp32 | bf16 | fp16 (CUDA)",
    )
    channels_last: bool = Field(True, description="channels_last memory format")
    compile: bool | None = Field(  # None: auto
        None,
        description="torch.compile the step; default: auto (inference on the CPU compiled with inductor freezing, "
        "training eager: compiled training measured slower there; --compile-mode or --inductor turn it on)",
    )
    inductor: dict[str, Any] = Field(
        default_factory=dict, description="torch._inductor.config settings for compile, e.g. freezing=True"
    )
    baseline: Baseline = Field(
        Baseline.fp32_eager,
        validate_default=True,
        description="what ratios are against: fp32-eager (each model and torchvision's googlenet also in fp32, "
        "eager, contiguous) | same (only torchvision's googlenet, in the same setup)",
    )
    rounds: int = Field(
        6, ge=1, description="interleaved rounds (A, B, C, then C, B, A, ...): each setup runs `steps` steps per round"
    )
    steps: int = Field(4, ge=1, description="timed steps per setup and round")
    warmup: int = Field(2, ge=0, description="steps before the rounds (at least 1: the first compiles)")
    detail: bool = Field(False, description="split a training step into forward, backward and optimizer time")
    peak_tmacs: float | None = Field(None, gt=0, description="device peak in 10^12 MAC/s (default: known GPUs)")
    runtime: Runtime = Field(
        Runtime.torch,
        validate_default=True,
        description="also time each model in another CPU runtime, inference only, the same threads as torch: "
        "onnxruntime (its ONNX export, fp32) | openvino (converted by OpenVINO, f32 and bf16 precision hints)",
    )

    @field_validator("runtime")
    @classmethod
    def _other_runtimes_infer(cls, runtime: str, info: ValidationInfo) -> str:
        if runtime != "torch" and info.data.get("mode") != "infer":
            raise ValueError(f"{runtime} times inference only; add --mode infer")
        return runtime

    @field_validator("inductor")
    @classmethod
    def _inductor_needs_compile(cls, inductor: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if inductor and info.data.get("compile") is False:
            raise ValueError("applies to torch.compile only; turn compile on")
        return inductor

    def compile_for(self, mode: str, device_type: str) -> bool:
        """Whether steps of ``mode`` (train | infer) are compiled: ``compile`` when given; else (auto) when a
        compile mode or inductor settings are given, or for inference on the CPU. Measured on a 2-core Xeon with
        AMX (torch 2.14, bf16, channels_last; docs/performance.md): compiled inference 2x faster than eager,
        compiled training 1.2-1.8x slower; on CUDA, not measured in this mode yet, so off."""
        if self.compile is not None:
            return self.compile
        if self.compile_mode != "default" or self.inductor:
            return True
        return mode == "infer" and device_type == "cpu"

    def inductor_for(self, mode: str, device_type: str) -> dict[str, Any]:
        """The inductor settings of a compiled step: the given ones, else for inference on the CPU ``freezing``
        (the weights become constants that oneDNN prepacks; it applies to inference graphs only)."""
        if not self.inductor and mode == "infer" and device_type == "cpu" and self.compile_for(mode, device_type):
            return {"freezing": True}
        return self.inductor
