"""Training one spec variant: the paper's recipe where it applies, one code path for CPU and GPU.

Recipe (paper section 6, where it is known): SGD with momentum 0.9; learning rate x0.96 every 8 epochs
(``schedule="step"``; ``"cosine"`` with linear warm-up for short runs); weight decay; aux losses weighted by
``spec.aux.loss_weight`` (0.3) and ignored at inference; Polyak averaging of the weights, here an exponential
moving average through ``torch.optim.swa_utils.AveragedModel`` (``averaging="ema"``), used for evaluation.

On CUDA: bf16 autocast by default (fp16 uses a GradScaler), cudnn.benchmark, optional ``torch.compile`` (with
``compile_mode="reduce-overhead"`` for CUDA graphs), fused SGD; ``fuse_1x1`` runs each Inception module's input
1x1 convolutions as one (:meth:`GoogLeNet.fuse_1x1`) and ``s2d_stem`` runs conv1 on space-to-depth blocks
(:meth:`GoogLeNet.space_to_depth_stem`), both with the same weights and function. channels_last memory format
by default on every device (on the CPU it makes the pool branches' max pools 10x faster; see
``results/bench/profile-cpu.md``).

Several GPUs/machines: launch with torchrun (``torchrun --nproc_per_node N -m inception_bench train ...``);
each process trains on its shard with ``batch_size`` images, so the effective batch is
``batch_size x world_size`` and the learning rate is used as given (both are recorded).

A run directory holds ``config.json`` (spec, variant, recipe, data, versions, git commit, device),
``metrics.jsonl`` (one line per epoch), ``checkpoint.pt`` (written atomically after every epoch; loads with
``torch.load(weights_only=True)``) and ``final.json``. Accuracies are fractions in 0..1; times in seconds.
"""

from __future__ import annotations

import io
import json
import math
import os
import platform
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.optim.swa_utils import AveragedModel

from inception_bench.errors import IbenchError
from inception_bench.models import GoogLeNet, GoogLeNetOutputs, build_model
from inception_bench.results import atomic_write_bytes, atomic_write_text
from inception_bench.spec import LoadedSpec, Spec, display_path

CHECKPOINT = "checkpoint.pt"
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")  # torch.compile's


def check_compile_mode(compile: bool, mode: str) -> None:
    """``--compile-mode``: one of torch.compile's modes, and only with ``--compile``."""
    if mode not in COMPILE_MODES:
        raise IbenchError(f"--compile-mode {mode}: use " + " | ".join(COMPILE_MODES))
    if mode != "default" and not compile:
        raise IbenchError(f"--compile-mode {mode}: applies to torch.compile only; add --compile")


@dataclass
class Recipe:
    """How to train. Defaults follow the paper where it applies (see the module docstring)."""

    data: str = "digits"
    data_root: str = "data"
    recipe: str = "auto"  # augmentation: paper | plain | none | auto
    image_size: int | None = None  # default: the spec's input_size
    epochs: int = 30
    batch_size: int = 64
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 2e-4
    schedule: str = "step"  # step (x0.96 every 8 epochs, the paper) | cosine (with warm-up, for short runs)
    warmup_epochs: int = 1
    averaging: str = "ema"  # ema (Polyak-style averaging used for evaluation) | none
    ema_decay: float = 0.99
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N
    precision: str = "auto"  # auto (bf16 on CUDA, fp32 on CPU) | fp32 | bf16 | fp16
    channels_last: bool = True  # faster on CUDA and on the CPU (pooling: see results/bench/profile-cpu.md)
    compile: bool = False
    compile_mode: str = "default"  # torch.compile's mode: default | reduce-overhead (CUDA graphs) | max-autotune...
    fuse_1x1: bool = False  # each Inception module's input 1x1 convolutions as one (same weights and arithmetic)
    s2d_stem: bool = False  # conv1 on 2x2 space-to-depth blocks (same weights and function)
    workers: int = 4

    def validate(self) -> None:
        checks = [
            (self.epochs >= 1, "--epochs", "must be at least 1"),
            (self.batch_size >= 1, "--batch-size", "must be at least 1"),
            (self.lr > 0 and math.isfinite(self.lr), "--lr", "must be a positive number"),
            (0 <= self.momentum < 1, "--momentum", "must be in [0, 1)"),
            (self.weight_decay >= 0, "--weight-decay", "must be >= 0"),
            (self.schedule in ("step", "cosine"), "--schedule", "use step or cosine"),
            (self.warmup_epochs >= 0, "--warmup-epochs", "must be >= 0"),
            (self.averaging in ("ema", "none"), "--averaging", "use ema or none"),
            (0 < self.ema_decay < 1, "--ema-decay", "must be in (0, 1)"),
            (self.precision in ("auto", "fp32", "bf16", "fp16"), "--precision", "use auto, fp32, bf16 or fp16"),
            (self.workers >= 0, "--workers", "must be >= 0"),
            (self.image_size is None or self.image_size >= 8, "--image-size", "must be at least 8 pixels"),
        ]
        for ok, option, why in checks:
            if not ok:
                raise IbenchError(f"{option} {getattr(self, option[2:].replace('-', '_'))}: {why}")
        check_compile_mode(self.compile, self.compile_mode)


# ------------------------------------------------------------------------------------------------ helpers
def build_for_run(spec: Spec, fuse_1x1: bool = False, s2d_stem: bool = False) -> GoogLeNet:
    """The spec's network with a run's execution options, which keep its weights and function: ``fuse_1x1``
    (:meth:`GoogLeNet.fuse_1x1`) and ``s2d_stem`` (:meth:`GoogLeNet.space_to_depth_stem`)."""
    model = build_model(spec).fuse_1x1(fuse_1x1)
    if s2d_stem:
        try:
            model.space_to_depth_stem()
        except ValueError as e:
            raise IbenchError(f"--s2d-stem: {e}; leave it off for this spec") from None
    return model


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise IbenchError(f"--device {name}: CUDA is not available on this machine; use --device cpu or auto")
    try:
        return torch.device(name)
    except RuntimeError:
        raise IbenchError(f"--device {name}: not a device; use auto, cpu, cuda or cuda:N") from None


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _versions() -> dict[str, str]:
    import torchvision

    from inception_bench import __version__

    return {
        "inception_bench": __version__,
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
    }


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def topk_correct(logits: torch.Tensor, target: torch.Tensor, ks: tuple[int, ...] = (1, 5)) -> list[int]:
    """Number of samples whose target is among the top-k logits, for each k (k capped at the class count)."""
    top = logits.topk(min(max(ks), logits.shape[1]), dim=1).indices
    hit = top == target[:, None]
    return [int(hit[:, :k].any(dim=1).sum()) for k in ks]


def loss_fn(output: torch.Tensor | GoogLeNetOutputs, target: torch.Tensor, aux_weight: float) -> torch.Tensor:
    """Cross-entropy of the main logits plus ``aux_weight`` x each aux head's (paper section 5)."""
    if isinstance(output, GoogLeNetOutputs):
        loss = F.cross_entropy(output.logits, target)
        for aux in output.aux:
            loss = loss + aux_weight * F.cross_entropy(aux, target)
        return loss
    return F.cross_entropy(output, target)


def autocast_for(device: torch.device, precision: str) -> Callable[[], Any]:
    """A factory of autocast contexts for ``precision`` (bf16 | fp16; fp32 gives a disabled one)."""
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    return lambda: torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)


def train_step(runner: nn.Module, images: torch.Tensor, target: torch.Tensor, optimizer: torch.optim.Optimizer,
               scaler: torch.amp.GradScaler, autocast: Callable[[], Any], aux_weight: float,
               loss: Callable[[Any, torch.Tensor, float], torch.Tensor] = loss_fn) -> torch.Tensor:  # fmt: skip
    """One SGD step as ``ibench train`` runs it (and ``ibench bench`` times it): forward under autocast, the loss
    with the aux heads weighted, backward (scaled for fp16), optimizer step. Returns the loss; no host sync."""
    with autocast():
        value = loss(runner(images), target, aux_weight)
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(value).backward()
    scaler.step(optimizer)
    scaler.update()
    return value


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
        pairs = zip(chain(self.module.parameters(), self.module.buffers()),
                    chain(model.parameters(), model.buffers()), strict=True)  # fmt: skip
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


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": torch.from_numpy(np.random.get_state()[1].astype(np.int64)),
        "numpy_pos": int(np.random.get_state()[2]),
        "python": list(random.getstate()[1]),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    np.random.set_state(("MT19937", state["numpy"].numpy().astype(np.uint32), state["numpy_pos"], 0, 0.0))
    random.setstate((3, tuple(state["python"]), None))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def load_checkpoint(path: Path) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``: no code runs) with a clear error when it is bad."""
    if not path.is_file():
        raise IbenchError(f"{path}: checkpoint not found; give a run directory's checkpoint.pt")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated zip, foreign pickle, ...: torch raises many types
        reason = " ".join(str(e).split())[:160]
        raise IbenchError(
            f"{path}: not a readable ibench checkpoint ({type(e).__name__}: {reason}); re-run training to recreate it"
        ) from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "spec" not in ckpt:
        raise IbenchError(f"{path}: not an ibench checkpoint (no 'model'/'spec' entries)")
    return ckpt


# ------------------------------------------------------------------------------------------- distributed
@dataclass
class Dist:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0


def _init_distributed(device_kind: str) -> Dist:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch.distributed as dist

    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device_kind == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def _all_reduce(values: list[float], dist_info: Dist, device: torch.device) -> list[float]:
    if dist_info.world_size == 1:
        return values
    import torch.distributed as dist

    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t)
    return t.tolist()


# ------------------------------------------------------------------------------------------------ loaders
def _loaders(recipe: Recipe, spec: Spec, device: torch.device, dist_info: Dist) -> tuple[Any, Any, Any]:
    from inception_bench.data import DeviceLoader, load_data, make_loader

    size = spec.input_size
    bundle = load_data(
        recipe.data, root=recipe.data_root, image_size=size, recipe=recipe.recipe, seed=recipe.seed,
        num_classes=spec.num_classes if recipe.data.lower() == "synthetic" else None,
    )  # fmt: skip
    if bundle.num_classes != spec.num_classes:
        raise IbenchError(
            f"--data {recipe.data} has {bundle.num_classes} classes but the spec has {spec.num_classes}; "
            f"add --set num_classes={bundle.num_classes}"
        )
    shard = slice(dist_info.rank, None, dist_info.world_size)
    seed = recipe.seed * 1000 + dist_info.rank
    if bundle.train_tensors is not None:
        images, labels = bundle.train_tensors
        train = DeviceLoader(
            images[shard], labels[shard], batch_size=recipe.batch_size, shuffle=True,
            augment=bundle.recipe != "none", mean=bundle.mean, std=bundle.std, device=device, seed=seed,
            drop_last=False, flip=bundle.flip,
        )  # fmt: skip
    else:
        from torch.utils.data import Subset

        part = Subset(bundle.train, list(range(len(bundle.train)))[shard])  # type: ignore[arg-type]
        train = make_loader(
            part, batch_size=recipe.batch_size, shuffle=True, seed=seed, workers=recipe.workers, device=device.type
        )
    if bundle.val_tensors is not None:
        val = DeviceLoader(
            *bundle.val_tensors, batch_size=max(recipe.batch_size, 256), shuffle=False, augment=False, mean=None,
            std=None, device=device, seed=0,
        )  # fmt: skip
    else:
        val = make_loader(
            bundle.val, batch_size=recipe.batch_size, shuffle=False, seed=0, workers=recipe.workers,
            device=device.type,
        )  # fmt: skip
    return bundle, train, val


def _scheduler(optimizer: torch.optim.Optimizer, recipe: Recipe) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped once per epoch."""
    from torch.optim import lr_scheduler as lrs

    if recipe.schedule == "step":
        return lrs.StepLR(optimizer, step_size=8, gamma=0.96)
    warm = min(recipe.warmup_epochs, recipe.epochs - 1)
    cosine = lrs.CosineAnnealingLR(optimizer, T_max=max(1, recipe.epochs - warm))
    if warm == 0:
        return cosine
    linear = lrs.LinearLR(optimizer, start_factor=1.0 / (warm + 1), total_iters=warm)
    return lrs.SequentialLR(optimizer, [linear, cosine], milestones=[warm])


def evaluate_loader(model: nn.Module, loader: Any, device: torch.device, autocast: Any) -> dict[str, float]:
    """Loss and top-1/top-5 (fractions) of ``model`` in eval mode over ``loader``."""
    model.eval()
    total = loss = top1 = top5 = 0.0
    with torch.no_grad():
        for images, target in loader:
            images, target = images.to(device, non_blocking=True), target.to(device, non_blocking=True)
            with autocast():
                logits = model(images)
            logits = logits.float()
            loss += F.cross_entropy(logits, target, reduction="sum").item()
            c1, c5 = topk_correct(logits, target)
            top1, top5, total = top1 + c1, top5 + c5, total + len(target)
    return {"loss": loss / total, "top1": top1 / total, "top5": top5 / total}


class _Progress:
    """A rich progress bar on a terminal; plain log lines otherwise."""

    def __init__(self, enabled: bool, epochs: int, steps: int, start_epoch: int) -> None:
        self.bar = None
        self.enabled = enabled
        if enabled and sys.stderr.isatty():
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"), BarColumn(),
                TextColumn("loss {task.fields[loss]:.3f}  {task.fields[ips]:.0f} img/s"), TimeRemainingColumn(),
                transient=False,
            )  # fmt: skip
            self.task = self.bar.add_task(
                "train", total=(epochs - start_epoch) * steps, epoch=start_epoch + 1, epochs=epochs, loss=0.0, ips=0.0
            )
            self.bar.start()

    def step(self, epoch: int, loss: float, ips: float, advance: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(self.task, advance=advance, epoch=epoch + 1, loss=loss, ips=ips)

    def epoch(self, line: str) -> None:
        if self.bar is not None:
            self.bar.console.print(line, highlight=False)
        elif self.enabled:
            print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()


# -------------------------------------------------------------------------------------------------- train
def train(
    loaded: LoadedSpec,
    recipe: Recipe,
    out: Path,
    resume: bool = False,
    stop_after: int | None = None,
    quiet: bool = False,
) -> dict[str, Any]:
    """Train ``loaded.spec`` with ``recipe`` into run directory ``out``; returns the final record.

    ``resume`` continues from ``out/checkpoint.pt``. ``stop_after`` ends the process's work after that many
    epochs in total without writing ``final.json`` (an interruption, for tests).
    """
    recipe.validate()
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise IbenchError(f"--out {out}: exists and is not a folder; choose a run directory")
    if recipe.image_size is not None and recipe.image_size != loaded.spec.input_size:
        # the network is planned, counted and recorded at the size it is trained at
        from inception_bench.spec import load_spec

        loaded = load_spec(loaded.path, {**loaded.overrides, "input_size": recipe.image_size})
    spec = loaded.spec
    if spec.in_channels != 3:
        raise IbenchError(f"--set in_channels={spec.in_channels}: the data sets here are RGB; use in_channels=3")
    device = resolve_device(recipe.device)
    dist_info = _init_distributed(device.type)
    if device.type == "cuda" and dist_info.world_size > 1:
        device = torch.device("cuda", dist_info.local_rank)
        torch.cuda.set_device(device)
    precision = recipe.precision if recipe.precision != "auto" else ("bf16" if device.type == "cuda" else "fp32")
    if precision != "fp32" and device.type != "cuda":
        raise IbenchError(f"--precision {precision}: only on CUDA; use --precision fp32 (or auto) on the CPU")
    channels_last = recipe.channels_last
    out = Path(out)
    ckpt_path = out / CHECKPOINT
    config = _config(loaded, recipe, device, dist_info, precision, channels_last)

    start_epoch, history, ckpt = 0, [], None
    if resume and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        _check_same_config(ckpt_path, ckpt["config"], config)
        start_epoch, history = int(ckpt["epoch"]), list(ckpt["history"])
    elif resume:
        if (out / "final.json").exists():
            raise IbenchError(f"--resume: {out} has no checkpoint but a final.json; the run is finished")
    elif (out / "final.json").exists() or ckpt_path.exists():
        raise IbenchError(f"--out {out}: already holds a run; use --resume to continue it or choose a new --out")

    from inception_bench.count import count as count_ops

    totals = count_ops(loaded).total  # builds a model: done before seeding so it cannot shift the RNG streams
    if recipe.s2d_stem:  # refuse a stem it cannot run before loading data (also a throwaway model, before seeding)
        build_for_run(spec, s2d_stem=True)
    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True

    bundle, train_loader, val_loader = _loaders(recipe, spec, device, dist_info)
    model = build_for_run(spec, recipe.fuse_1x1, recipe.s2d_stem).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    fused = device.type == "cuda"
    optimizer = torch.optim.SGD(
        model.parameters(), lr=recipe.lr, momentum=recipe.momentum, weight_decay=recipe.weight_decay,
        fused=fused or None,
    )  # fmt: skip
    scheduler = _scheduler(optimizer, recipe)
    averaged = None
    if recipe.averaging == "ema":
        averaged = WeightAverage(model, recipe.ema_decay)
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    if ckpt is not None:
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if averaged is not None:
            averaged.load_state_dict(ckpt["averaged"])
        scaler.load_state_dict(ckpt["scaler"])
        _set_rng_state(ckpt["rng"])

    train_model: nn.Module = model
    if dist_info.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        train_model = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    if recipe.compile:
        mode = None if recipe.compile_mode == "default" else recipe.compile_mode
        train_model = torch.compile(train_model, mode=mode)  # type: ignore[assignment]
    autocast = autocast_for(device, precision)

    if dist_info.main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise IbenchError(
                f"--out {out}: cannot create it ({e.strerror}); choose a writable run directory"
            ) from None
        atomic_write_text(out / "config.json", json.dumps(config, indent=2) + "\n")
        _write_metrics(out, history)

    progress = _Progress(dist_info.main and not quiet, recipe.epochs, len(train_loader), start_epoch)
    aux_weight = spec.aux.loss_weight
    status, message = "completed", ""
    wall_start = time.perf_counter() - sum(h["seconds"] for h in history)
    try:
        for epoch in range(start_epoch, recipe.epochs):
            if stop_after is not None and epoch >= stop_after:
                return {"status": "interrupted", "epochs": epoch}
            train_loader.set_epoch(epoch)
            train_model.train()
            t0 = time.perf_counter()
            seen, loss_sum, steps = 0, torch.zeros((), device=device), 0
            for images, target in train_loader:
                images = images.to(device, non_blocking=True)
                target = target.to(device, non_blocking=True)
                if channels_last:
                    images = images.contiguous(memory_format=torch.channels_last)
                loss = train_step(train_model, images, target, optimizer, scaler, autocast, aux_weight)
                if averaged is not None:
                    averaged.update_parameters(model)
                loss_sum += loss.detach() * len(target)
                seen += len(target)
                steps += 1
                if progress.bar is not None and (steps % 25 == 0 or steps == len(train_loader)):
                    # the only host sync in the loop: on a terminal, every 25 steps
                    progress.step(
                        epoch,
                        loss.item(),
                        seen / (time.perf_counter() - t0),
                        advance=25 if steps % 25 == 0 else steps % 25,
                    )
            train_loss_sum, seen_all = _all_reduce([loss_sum.item(), float(seen)], dist_info, device)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            seconds = time.perf_counter() - t0
            train_loss = train_loss_sum / seen_all
            if not math.isfinite(train_loss):
                status = "diverged"
                message = f"training diverged in epoch {epoch + 1}: the loss is {train_loss} (try a lower --lr)"
                break
            lr = optimizer.param_groups[0]["lr"]
            scheduler.step()
            eval_model = averaged.module if averaged is not None else model
            val = evaluate_loader(eval_model, val_loader, device, autocast)
            row = {
                "epoch": epoch + 1,
                "train_loss": train_loss,
                "val_loss": val["loss"],
                "val_top1": val["top1"],
                "val_top5": val["top5"],
                "lr": lr,
                "images_per_sec": seen_all / seconds,
                "seconds": seconds,
            }
            if averaged is not None:
                raw = evaluate_loader(model, val_loader, device, autocast)
                row["val_top1_raw"] = raw["top1"]
            history.append(row)
            if dist_info.main:
                _save_checkpoint(
                    ckpt_path, config, spec, epoch + 1, history, model, optimizer, scheduler, averaged, scaler
                )
                _write_metrics(out, history)
            progress.epoch(
                f"epoch {epoch + 1}/{recipe.epochs}  train loss {train_loss:.4f}  val loss {val['loss']:.4f}  "
                f"top-1 {val['top1']:.2%}  top-5 {val['top5']:.2%}  lr {lr:.4g}  {seen_all / seconds:.0f} img/s"
            )
    except torch.OutOfMemoryError:
        status, message = "failed", f"out of memory at batch size {recipe.batch_size}; lower --batch-size"
    finally:
        progress.close()

    last = history[-1] if history else {}
    speeds = [h["images_per_sec"] for h in history]
    final = {
        "status": status,
        "message": message,
        "val_top1": last.get("val_top1"),
        "val_top5": last.get("val_top5"),
        "val_top1_raw": last.get("val_top1_raw"),
        "params": totals["params"],
        "ops": totals["ops"],
        "params_all": totals["params_all"],
        "epochs": len(history),
        "train_images_per_sec": float(np.median(speeds)) if speeds else None,
        "wall_seconds": time.perf_counter() - wall_start,
        "device": config["device"],
        "data": bundle.description,
    }
    if dist_info.main:
        atomic_write_text(out / "final.json", json.dumps(final, indent=2) + "\n")
    if dist_info.world_size > 1:
        import torch.distributed as dist

        dist.destroy_process_group()
    return final


def _config(
    loaded: LoadedSpec, recipe: Recipe, device: torch.device, dist_info: Dist, precision: str, channels_last: bool
) -> dict[str, Any]:
    return {
        "spec_path": display_path(loaded.path),
        "spec": loaded.spec.model_dump(mode="json", by_alias=True),
        "variant": loaded.spec.variant(),
        "overrides": loaded.overrides,
        "recipe": asdict(recipe),
        "precision": precision,
        "channels_last": channels_last,
        "world_size": dist_info.world_size,
        "effective_batch_size": recipe.batch_size * dist_info.world_size,
        "device": device_name(device),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


# What must not change between an interrupted run and its resumption; the recipe fields that say where and how,
# not what, is computed may.
_RESUME_KEYS = ("spec", "recipe", "world_size")
MACHINE_FIELDS = ("device", "workers", "compile", "compile_mode", "fuse_1x1", "s2d_stem", "data_root")


def portable_recipe(recipe: dict[str, Any] | None) -> dict[str, Any]:
    """A recipe without its machine-specific fields: what must match for a run to be continued."""
    return {k: v for k, v in (recipe or {}).items() if k not in MACHINE_FIELDS}


def _check_same_config(path: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in _RESUME_KEYS:
        a, b = old.get(key), new.get(key)
        if key == "recipe":
            a, b = portable_recipe(a), portable_recipe(b)
        if a != b:
            diff = sorted(k for k in {**a, **b} if a.get(k) != b.get(k)) if isinstance(a, dict) else []
            raise IbenchError(
                f"--resume {path}: the run was started with a different {key}"
                + (f" ({', '.join(diff)})" if diff else "")
                + "; resume with the same options or start a new --out"
            )


def _save_checkpoint(
    path: Path, config: dict[str, Any], spec: Spec, epoch: int, history: list[dict[str, Any]], model: nn.Module,
    optimizer: torch.optim.Optimizer, scheduler: Any, averaged: Any, scaler: Any,
) -> None:  # fmt: skip
    state = {
        "format": "ibench-checkpoint-1",
        "config": config,
        "spec": spec.model_dump(mode="json", by_alias=True),
        "epoch": epoch,
        "history": history,
        "model": model.state_dict(),
        "averaged": averaged.state_dict() if averaged is not None else None,
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "scaler": scaler.state_dict(),
        "rng": _rng_state(),
    }
    buf = io.BytesIO()
    torch.save(state, buf)
    atomic_write_bytes(path, buf.getvalue())


def _write_metrics(out: Path, history: list[dict[str, Any]]) -> None:
    atomic_write_text(out / "metrics.jsonl", "".join(json.dumps(h) + "\n" for h in history))


def model_from_checkpoint(ckpt: dict[str, Any], averaged: bool = True) -> nn.Module:
    """The trained network of a checkpoint: the averaged weights when present (what the paper evaluates)."""
    from pydantic import ValidationError

    try:
        spec = Spec.model_validate(ckpt["spec"])
    except ValidationError as e:
        raise IbenchError(f"checkpoint: its spec does not validate ({e.errors()[0]['msg']})") from None
    model = build_model(spec)
    state = ckpt["model"]
    if averaged and ckpt.get("averaged"):
        prefix = "module."
        state = {k[len(prefix) :]: v for k, v in ckpt["averaged"].items() if k.startswith(prefix)}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise IbenchError(f"checkpoint: weights do not fit its spec ({str(e).splitlines()[0]})") from None
    return model
