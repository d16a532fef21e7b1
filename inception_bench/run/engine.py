"""The training step and the evaluation loop that ``ibench train``, ``ibench bench`` and ``ibench eval`` share:
device and precision resolution, autocast, the loss with the aux heads, one optimizer step, the weight average,
top-k accuracy.

Conventions: accuracies are fractions in 0..1; losses are means over samples; a step reads nothing back from the
device (no host-device synchronisation), so a GPU never waits for Python inside the step loop.
"""

from __future__ import annotations

import contextlib
import logging
import platform
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from itertools import chain
from pathlib import Path
from typing import Any, cast

import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from inception_bench.errors import FieldError
from inception_bench.models import GoogLeNet, GoogLeNetOutputs, build_model
from inception_bench.spec import Spec

Autocast = Callable[[], AbstractContextManager[Any]]


# ------------------------------------------------------------------------------------------------- devices
def resolve_device(name: str) -> torch.device:
    """``auto`` (CUDA when present), ``cpu``, ``cuda``, ``cuda:N`` or another torch device name."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise FieldError("device", "CUDA is not available on this machine; use cpu or auto", name)
    try:
        return torch.device(name)
    except RuntimeError:
        raise FieldError("device", "not a device; use auto, cpu, cuda or cuda:N", name) from None


def cpu_has_native_bf16() -> bool:
    """Whether this CPU multiplies bf16 matrices natively (AVX-512 BF16 or AMX tiles), by torch's own checks.
    Elsewhere oneDNN has no bf16 hardware to run bf16 autocast on."""
    return torch.backends.mkldnn.is_available() and _bf16_unit() is not None


def resolve_precision(requested: str, device: torch.device) -> str:
    """``auto`` is bf16 on CUDA and on CPUs with native bf16 matrix support (:func:`cpu_has_native_bf16`), fp32
    elsewhere; ``bf16`` and ``fp32`` force it. fp16 needs CUDA (its GradScaler is CUDA's)."""
    if requested not in ("auto", "fp32", "bf16", "fp16"):
        raise FieldError("precision", "use auto, fp32, bf16 or fp16", requested)
    if requested == "auto":
        native = device.type == "cuda" or (device.type == "cpu" and cpu_has_native_bf16())
        return "bf16" if native else "fp32"
    if requested == "fp16" and device.type != "cuda":
        raise FieldError("precision", "only on CUDA; use bf16 or fp32 on the CPU", requested)
    if requested == "bf16" and device.type not in ("cuda", "cpu"):
        raise FieldError("precision", f"not on {device.type}; use fp32", requested)
    return requested


def precision_reason(requested: str, precision: str, device: torch.device, resumed: bool = False) -> str:
    """Why a run computes in ``precision``, in words, e.g. ``bf16 (auto: the CPU has native bf16 matrix
    support)``."""
    if requested != "auto":
        return f"{precision} (forced)"
    if resumed:
        return f"{precision} (auto, kept from the run's start)"
    if device.type == "cpu":
        native = "has" if precision == "bf16" else "lacks"
        return f"{precision} (auto: the CPU {native} native bf16 matrix support)"
    return f"{precision} (auto: {device.type})"


def prepare_device(device: torch.device, tf32: bool = False) -> None:
    """On CUDA, let cuDNN pick its fastest kernels, and with ``tf32`` run fp32 matmuls and convolutions in TF32
    (training does; ``ibench bench`` keeps PyTorch's defaults, the baseline's)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        if tf32:
            torch.backends.cuda.matmul.allow_tf32 = True
            torch.backends.cudnn.allow_tf32 = True


def device_name(device: torch.device) -> str:
    """The device in words: the GPU's name, or the CPU's model, vector ISA, bf16 matrix units and threads, e.g.
    ``cpu (Intel(R) Xeon(R) Processor, AVX512, AMX bf16, 2 threads)``."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type != "cpu":
        return device.type
    bf16 = _bf16_unit() or "no native bf16"
    isa = torch.backends.cpu.get_cpu_capability()
    return f"cpu ({_cpu_model()}, {isa}, {bf16}, {torch.get_num_threads()} threads)"


_BF16_UNITS = (("_is_amx_tile_supported", "AMX bf16"), ("_is_avx512_bf16_supported", "AVX512-BF16"))


def _bf16_unit() -> str | None:
    """The CPU's bf16 matrix unit by torch's checks (AMX first), or None."""
    return next((name for check, name in _BF16_UNITS if getattr(torch.cpu, check, lambda: False)()), None)


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def autocast_for(device: torch.device, precision: str) -> Autocast:
    """A factory of autocast contexts for ``precision`` (bf16 | fp16; fp32 gives a disabled one)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return lambda: torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def build_for_run(spec: Spec, fuse_1x1: bool = False, s2d_stem: bool = False, meta: bool = False) -> GoogLeNet:
    """The spec's network with a run's execution options (:func:`~inception_bench.models.build_model`); a stem
    the space-to-depth option cannot run is a FieldError. ``meta``: on the meta device (a check that allocates and
    draws nothing)."""
    try:
        with torch.device("meta") if meta else contextlib.nullcontext():
            return build_model(spec, fuse_1x1=fuse_1x1, s2d_stem=s2d_stem)
    except ValueError as e:
        raise FieldError("s2d_stem", f"{e}; leave it off for this spec") from None


def compiled(model: nn.Module, compile: bool, mode: str, dynamic: bool | None = None) -> nn.Module:
    """``torch.compile(model)`` in ``mode`` when ``compile``, else the model itself. ``dynamic=False`` keeps every
    graph specialised to its shapes (``ibench bench``: a second variant of the same class would otherwise be
    compiled with dynamic shapes)."""
    if not compile:
        return model
    if not torch.cuda.is_available():  # else inductor's C++ build warns "No CUDA runtime is found" on a CPU compile
        logging.getLogger("torch.utils.cpp_extension").setLevel(logging.ERROR)
    return cast(nn.Module, torch.compile(model, mode=None if mode == "default" else mode, dynamic=dynamic))


# ------------------------------------------------------------------------------------------------ the step
def loss_fn(output: Any, target: torch.Tensor, aux_weight: float, label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the main logits plus ``aux_weight`` x each aux head's (paper section 5), in fp32 whatever
    precision the logits come in, with ``label_smoothing`` (0: none) on every head. ``output`` is our model's
    (logits, or :class:`GoogLeNetOutputs`) or torchvision's googlenet's ``(logits, aux2, aux1)``."""
    if isinstance(output, tuple) and not isinstance(output, GoogLeNetOutputs):
        logits, *aux = output
        output = GoogLeNetOutputs(logits, tuple(a for a in aux if a is not None))
    if isinstance(output, GoogLeNetOutputs):
        loss = F.cross_entropy(output.logits.float(), target, label_smoothing=label_smoothing)
        for aux_logits in output.aux:
            loss = loss + aux_weight * F.cross_entropy(aux_logits.float(), target, label_smoothing=label_smoothing)
        return loss
    return F.cross_entropy(output.float(), target, label_smoothing=label_smoothing)


def train_step(
    runner: nn.Module,
    images: torch.Tensor,
    target: torch.Tensor,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler,
    autocast: Autocast,
    aux_weight: float,
    mark: Callable[[str], None] | None = None,
    *,
    label_smoothing: float = 0.0,
    clip_grad_norm: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """One SGD step as ``ibench train`` runs it (and ``ibench bench`` times it): forward under autocast, the loss
    with the aux heads weighted (in fp32), backward (scaled for fp16), the gradients' global L2 norm clipped to
    ``clip_grad_norm`` (None: not clipped), optimizer step. Parameters, gradients and the optimizer's state stay
    fp32: autocast only lowers the precision of the operations. Returns the loss and the gradient norm before
    clipping (None when not clipping), as device tensors: no host sync. ``mark(phase)``, when given, is called
    after "forward", "backward" and "optimizer" (``ibench bench --detail`` times the phases with it)."""
    with autocast():
        value = loss_fn(runner(images), target, aux_weight, label_smoothing)
    if mark is not None:
        mark("forward")
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(value).backward()
    if mark is not None:
        mark("backward")
    norm = None
    if clip_grad_norm is not None:
        scaler.unscale_(optimizer)  # clip the true gradients (a no-op unless fp16 scales them)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        norm = torch.nn.utils.clip_grad_norm_(params, clip_grad_norm, foreach=True)
    scaler.step(optimizer)
    scaler.update()
    if mark is not None:
        mark("optimizer")
    return value, norm


class WeightAverage(AveragedModel):
    """An exponential moving average of a model's weights and buffers: a ``torch.optim.swa_utils.AveragedModel``
    (its ``module``, state dict and ``n_averaged`` count) whose decay ramps up as min(decay, (1 + n) / (10 + n))
    after n updates, so that short runs are not dominated by their first weights (timm's ModelEma warm-up).

    ``update_parameters`` is AveragedModel's without its host reads of the device: torch's compares the count on
    the host and copies it to the device on every update, which on CUDA waits for the GPU once per training step.
    Here the count stays a CPU tensor (the averaged copy is made where the model is, the count on the CPU, and
    neither moves) and the decay is a Python number, so an update is a few foreach kernels queued behind the step.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        super().__init__(model, use_buffers=True)
        self.decay = decay

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        n = int(self.n_averaged)  # a CPU tensor: no device sync
        pairs = zip(
            chain(self.module.parameters(), self.module.buffers()),
            chain(model.parameters(), model.buffers()),
            strict=True,
        )
        averaged: list[torch.Tensor] = []
        current: list[torch.Tensor] = []
        for a, c in pairs:
            if n == 0 or not torch.is_floating_point(a):  # the first update, and BN's batch counts: copies
                a.copy_(c)
            else:
                averaged.append(a)
                current.append(c)
        if averaged:
            torch._foreach_lerp_(averaged, current, 1 - min(self.decay, (1 + n) / (10 + n)))
        self.n_averaged += 1


def has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


def recompute_bn_stats(model: nn.Module, batches: Iterable[torch.Tensor], autocast: Autocast) -> None:
    """Precise BN (Wu and Johnson, 2021): replace batch norm's running statistics with their average over
    ``batches`` of training images computed by ``model`` as it is now (``torch.optim.swa_utils.update_bn``, under
    the run's autocast). The running averages that training keeps trail weights that move fast (a large learning
    rate over few steps) and describe networks that no longer exist; see docs/training.md."""
    from torch.optim.swa_utils import update_bn

    with torch.no_grad(), autocast():
        update_bn(batches, model)


# ------------------------------------------------------------------------------------------------ evaluation
def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """Number of samples whose target is among the top-k logits, for each k (k capped at the class count)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == target[:, None]
    return [int(hit[:, :k].any(dim=1).sum()) for k in ks]


def evaluate_loader(
    model: nn.Module, loader: Iterable[tuple[torch.Tensor, torch.Tensor]], device: torch.device, autocast: Autocast
) -> dict[str, float]:
    """Loss and top-1/top-5 (fractions) of ``model`` in eval mode over ``loader``."""
    model.eval()
    total = loss = top1 = top5 = 0.0
    with torch.no_grad():
        for images, target in loader:
            images, target = images.to(device, non_blocking=True), target.to(device, non_blocking=True)
            images = images.contiguous(memory_format=_layout(model))
            with autocast():
                logits = model(images)
            logits = logits.float()
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            c1, c5 = topk_correct(logits, target)
            top1, top5, total = top1 + c1, top5 + c5, total + len(target)
    return {"loss": loss / total, "top1": top1 / total, "top5": top5 / total}


def _layout(model: nn.Module) -> torch.memory_format:
    """The memory format of the model's first 4-d weight (inputs in it spare a conversion in the first layer)."""
    for p in model.parameters():
        if p.dim() == 4:
            channels_last = p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
            return torch.channels_last if channels_last else torch.contiguous_format
    return torch.contiguous_format
