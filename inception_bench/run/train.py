"""Training one spec variant: the paper's recipe where it applies, one code path for CPU and GPU.

Recipe (paper section 6, where it is known; :class:`~inception_bench.run.settings.Recipe`): SGD with momentum 0.9
(Nesterov's by default, the paper's plain momentum with ``nesterov=False``);
learning rate x0.96 every 8 epochs (``schedule="step"``; ``"cosine"`` with linear warm-up for short runs); weight
decay; aux losses weighted by ``spec.aux.loss_weight`` (0.3) and ignored at inference; Polyak averaging of the
weights, here an exponential moving average (:class:`~inception_bench.run.engine.WeightAverage`), used for evaluation.

Precision ``auto``: bf16 autocast on CUDA and on CPUs with native bf16 matrix units, fp32 elsewhere
(:func:`~inception_bench.run.engine.resolve_precision`; the loss, weights, gradients and optimizer state stay fp32; a
resumed run keeps the precision it started in). On CUDA: fp16 uses a GradScaler, cudnn.benchmark, fused SGD.
Optional ``torch.compile`` on any device (``compile_mode="reduce-overhead"`` for CUDA graphs), its compilation
timed apart (``compile_seconds`` of the epoch it happened in, left out of that epoch's images/s); ``fuse_1x1`` and
``s2d_stem`` are execution
options with the same weights and function (:func:`~inception_bench.models.build_model`). channels_last memory
format by default on every device (on the CPU it makes the pool branches' max pools 10x faster; see
``results/bench/profile-cpu.md``).

Several GPUs/machines: launch with torchrun (``torchrun --nproc_per_node N -m inception_bench train ...``); each
process trains on its partition of every epoch (:mod:`inception_bench.data.loaders`) with ``batch_size`` images,
so the effective batch is ``batch_size x world_size`` and the learning rate is used as given (both recorded).

A run is four steps: :func:`setup` (every check before anything is written, then the device, the data, the model
and the optimizer, restored from the run folder's checkpoint when resuming), :func:`train_epoch`,
:func:`evaluate_epoch` (then a checkpoint), and :func:`finish` (the :class:`~inception_bench.store.RunRecord`).
The run folder's files: :class:`~inception_bench.store.RunFolder`.
"""

from __future__ import annotations

import math
import platform
import random
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inception_bench.count import Totals, totals
from inception_bench.errors import FieldError, fields_of
from inception_bench.models import GoogLeNet
from inception_bench.progress import Progress, ProgressMode
from inception_bench.run import checkpoint, guard
from inception_bench.run.data import Loaders
from inception_bench.run.distributed import Dist, all_reduce_sum, init_distributed, shutdown
from inception_bench.run.engine import (
    Autocast,
    WeightAverage,
    autocast_for,
    build_for_run,
    compiled,
    device_name,
    evaluate_loader,
    has_batch_norm,
    precision_reason,
    prepare_device,
    recompute_bn_stats,
    resolve_device,
    resolve_precision,
    train_step,
)
from inception_bench.run.settings import Recipe, portable_recipe
from inception_bench.run.tracking import Naming, Trackers
from inception_bench.spec import LoadedSpec, Spec, display_path
from inception_bench.store import RunFolder, RunRecord, RunStatus

# What must not change between an interrupted run and its resumption (the recipe without its machine fields).
_RESUME_KEYS = ("spec", "recipe", "world_size")


@dataclass
class Run:
    """Everything one training run holds once set up."""

    loaded: LoadedSpec
    recipe: Recipe
    folder: RunFolder
    dist: Dist
    device: torch.device
    config: dict[str, Any]
    totals: Totals
    data_description: str
    train_loader: Any
    val_loader: Any
    test_loader: Any | None
    model: GoogLeNet
    runner: nn.Module  # what the step calls: the model, wrapped by DDP and/or torch.compile
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    averaged: WeightAverage | None
    scaler: torch.amp.GradScaler
    autocast: Autocast
    trackers: Trackers  # where the metrics go besides metrics.jsonl (main rank)
    history: list[dict[str, Any]] = field(default_factory=list)
    started: float = field(default_factory=time.perf_counter)
    compile_seconds: float | None = None  # measured in this process's first epoch, recorded with that epoch
    # (the first step and each new batch shape's first step, less the epoch's steady rate)
    compiled_here: bool = False
    grad_norm: dict[str, float] = field(default_factory=dict)  # this epoch's, recorded with it
    epoch_lr: float = 0.0  # the learning rate of this epoch's first step

    @property
    def epochs_done(self) -> int:
        return len(self.history)


# --------------------------------------------------------------------------------------------------- setup
def _versions() -> dict[str, str]:
    import torchvision

    from inception_bench import __version__

    return {
        "inception_bench": __version__,
        "torch": str(torch.__version__),
        "torchvision": str(torchvision.__version__),
        "python": platform.python_version(),
    }


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _config(loaded: LoadedSpec, recipe: Recipe, device: torch.device, dist: Dist, precision: str) -> dict[str, Any]:
    return {
        "spec_path": display_path(loaded.path),
        "spec": loaded.spec.to_raw(),
        "variant": loaded.spec.variant(),
        "overrides": loaded.overrides,
        "recipe": recipe.model_dump(),
        "precision": precision,
        "channels_last": recipe.channels_last,
        "world_size": dist.world_size,
        "effective_batch_size": recipe.batch_size * dist.world_size,
        "device": device_name(device),
        "versions": _versions(),
        "git_commit": _git_commit(),
    }


def _check_same_config(path: Path, old: dict[str, Any], new: dict[str, Any]) -> None:
    for key in _RESUME_KEYS:
        a, b = old.get(key), new.get(key)
        if key == "recipe":
            a, b = portable_recipe(a), portable_recipe(b)
        if key == "spec":
            a, b = Spec.recorded(a), Spec.recorded(b)
        if a != b:
            diff = []
            if isinstance(a, dict) and isinstance(b, dict):
                diff = sorted(k for k in {**a, **b} if a.get(k) != b.get(k))
            why = f"the run was started with a different {key}" + (f" ({', '.join(diff)})" if diff else "")
            older = [k for k in diff if key == "recipe" and k in Recipe.LEGACY and k not in (old.get(key) or {})]
            if older:  # the record predates the field: say what it trained with
                flags = " ".join(
                    f"--{'' if Recipe.LEGACY[k] else 'no-'}{k.replace('_', '-')}"
                    if isinstance(Recipe.LEGACY[k], bool)
                    else f"--{k.replace('_', '-')} {Recipe.LEGACY[k]}"
                    for k in older
                )
                why += f"; it predates {', '.join(older)}: it trained with {flags}"
            raise FieldError("resume", why + "; resume with the same settings or start a new run folder", path)


def _restore_point(folder: RunFolder, config: dict[str, Any], resume: bool) -> dict[str, Any] | None:
    """The checkpoint to continue from (None: start afresh), after checking that this may happen."""
    if resume and folder.has_checkpoint():
        ckpt = checkpoint.load_checkpoint(folder.checkpoint_path)
        checkpoint.check_resumable(ckpt, folder.checkpoint_path)
        _check_same_config(folder.checkpoint_path, ckpt["config"], config)
        return ckpt
    if resume and folder.has_record():
        raise FieldError("resume", "the run has no checkpoint but a record: it is finished", folder.path)
    if not resume and (folder.has_record() or folder.has_checkpoint()):
        raise FieldError(
            "out", "already holds a run; add --resume to continue it, or choose a new run folder", folder.path
        )
    return None


def _loaders(recipe: Recipe, loaded: LoadedSpec, device: torch.device, dist: Dist) -> Loaders:
    from inception_bench.run.data import recipe_loaders

    return recipe_loaders(recipe, loaded.spec, device, rank=dist.rank, world_size=dist.world_size)


def _scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, warmup_steps: int, steps_per_epoch: int, total_steps: int
) -> torch.optim.lr_scheduler.LRScheduler:
    """Stepped after every optimizer step: ``step`` (x0.96 every 8 epochs, the paper) or ``cosine`` (a linear
    warm-up over ``warmup_steps``, then cosine to 0 at the run's last step)."""
    from torch.optim import lr_scheduler as lrs

    if schedule == "step":
        return lrs.StepLR(optimizer, step_size=8 * steps_per_epoch, gamma=0.96)
    cosine = lrs.CosineAnnealingLR(optimizer, T_max=max(1, total_steps - warmup_steps))
    if warmup_steps == 0:
        return cosine
    linear = lrs.LinearLR(optimizer, start_factor=1.0 / (warmup_steps + 1), total_iters=warmup_steps)
    return lrs.SequentialLR(optimizer, [linear, cosine], milestones=[warmup_steps])


def _resolved(recipe: Recipe, effective_batch: int, steps_per_epoch: int) -> dict[str, Any]:
    """The recipe's values that follow from the run (its batch and length), as config.json records them."""
    total = recipe.epochs * steps_per_epoch
    schedule = recipe.schedule_for()
    return {
        "lr": recipe.lr_for(effective_batch),
        "schedule": schedule,
        "warmup_steps": min(round(recipe.warmup_epochs * steps_per_epoch), total // 2) if schedule == "cosine" else 0,
        "steps_per_epoch": steps_per_epoch,
        "ema_decay": recipe.ema_decay_for(total) if recipe.averaging == "ema" else None,
    }


def model_and_optimizer(
    spec: Spec, recipe: Recipe, device: torch.device, lr: float
) -> tuple[GoogLeNet, torch.optim.SGD]:
    """The network on ``device`` with the recipe's execution options (fused 1x1s, stem, channels_last) and its SGD
    at ``lr`` with the recipe's momentum (Nesterov's or not) and weight decay: what ``ibench train`` and
    ``ibench lr-find`` step."""
    model = build_for_run(spec, recipe.fuse_1x1, recipe.s2d_stem).to(device)
    if recipe.channels_last:
        model = model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=lr,
        momentum=recipe.momentum,
        nesterov=recipe.nesterov and recipe.momentum > 0,  # torch refuses Nesterov without momentum
        weight_decay=recipe.weight_decay,
        fused=device.type == "cuda" or None,
    )
    return model, optimizer


def setup(
    loaded: LoadedSpec, recipe: Recipe, folder: RunFolder, resume: bool = False, naming: Naming | None = None
) -> Run:
    """A run ready for its first (or next) epoch. Everything that can be refused is refused before anything is
    written: the spec at the training image size, the device and precision, the execution options, the run
    folder's state, the data; then the trackers start (one that cannot leaves the run folder's config.json
    behind). ``naming``: how the trackers name the run (default: by its folder)."""
    if recipe.image_size is not None and recipe.image_size != loaded.spec.input_size:
        # the network is planned, counted and recorded at the size it is trained at
        loaded = loaded.with_overrides({"input_size": recipe.image_size})
    spec = loaded.spec
    if spec.in_channels != 3:
        raise FieldError("spec.in_channels", "the data sets here are RGB; use 3", spec.in_channels)
    with fields_of("recipe"):
        device = resolve_device(recipe.device)
        dist = init_distributed(device.type)
        if device.type == "cuda" and dist.world_size > 1:
            device = torch.device("cuda", dist.local_rank)
            torch.cuda.set_device(device)
        precision = resolve_precision(recipe.precision, device)
        build_for_run(spec, s2d_stem=recipe.s2d_stem, meta=True)  # refuse a stem it cannot run before the data
    folder.check_location()
    Trackers.check(recipe.log)
    config = _config(loaded, recipe, device, dist, precision)
    ckpt = _restore_point(folder, config, resume)
    if ckpt is not None and recipe.precision == "auto":  # a resumed run goes on in the precision it started in
        precision = config["precision"] = ckpt["config"].get("precision", precision)
    run_totals = totals(spec)

    random.seed(recipe.seed)
    np.random.seed(recipe.seed)
    torch.manual_seed(recipe.seed)
    prepare_device(device, tf32=True)
    with fields_of("recipe"):
        loaders = _loaders(recipe, loaded, device, dist)
    train_loader = loaders.train
    resolved = config["resolved"] = _resolved(recipe, config["effective_batch_size"], len(train_loader))
    model, optimizer = model_and_optimizer(spec, recipe, device, resolved["lr"])
    scheduler = _scheduler(
        optimizer, resolved["schedule"], resolved["warmup_steps"], len(train_loader), recipe.epochs * len(train_loader)
    )
    averaged = WeightAverage(model, resolved["ema_decay"]) if recipe.averaging == "ema" else None
    scaler = torch.amp.GradScaler("cuda", enabled=precision == "fp16")
    history: list[dict[str, Any]] = []
    if ckpt is not None:
        model.load_state_dict(checkpoint.model_state(ckpt, model))
        optimizer.load_state_dict(checkpoint.optimizer_state(ckpt, model))
        scheduler.load_state_dict(ckpt["scheduler"])
        if averaged is not None:
            averaged.load_state_dict(checkpoint.averaged_state(ckpt, model))
        scaler.load_state_dict(ckpt["scaler"])
        checkpoint.set_rng_state(ckpt["rng"])
        history = list(ckpt["history"])

    runner: nn.Module = model
    if dist.world_size > 1:
        from torch.nn.parallel import DistributedDataParallel

        runner = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    runner = compiled(runner, recipe.compile, recipe.compile_mode)
    if dist.main:
        folder.create()
        folder.write_config(config)
        folder.write_metrics(history)
        if not history:
            folder.forget_trackers()
    trackers = Trackers(recipe.log if dist.main else [], folder, config, history, naming)  # the main rank reports
    run = Run(
        loaded,
        recipe,
        folder,
        dist,
        device,
        config,
        run_totals,
        loaders.description,
        train_loader,
        loaders.val,
        loaders.test,
        model,
        runner,
        optimizer,
        scheduler,
        averaged,
        scaler,
        autocast_for(device, precision),
        trackers,
        history,
    )
    # wall time counts the epochs done before a resume, their compilation included
    run.started -= sum(h["seconds"] + h.get("compile_seconds", 0.0) for h in history)
    return run


# --------------------------------------------------------------------------------------------------- epochs
def train_epoch(run: Run, epoch: int, progress: Progress | None = None) -> tuple[float, int, float]:
    """One pass over this rank's partition of the training data: (mean train loss over all ranks, images seen by
    all ranks, seconds). The loss is only read back at the end of the epoch."""
    run.train_loader.set_epoch(epoch)
    run.runner.train()
    aux_weight = run.loaded.spec.aux.loss_weight
    channels_last = run.recipe.channels_last
    t0 = time.perf_counter()
    seen, steps, progress_steps, loss_sum = 0, 0, 0, torch.zeros((), device=run.device)
    norms: list[torch.Tensor] = []  # the gradient norms before clipping, read back once at the end
    run.epoch_lr = run.optimizer.param_groups[0]["lr"]
    # compiled steps: the first step, and the first of each new batch shape (the last, partial batch recompiles),
    # are timed on their own, so that the compilation can be told apart from the steady step time
    timing = run.recipe.compile and not run.compiled_here
    shapes: set[int] = set()
    compiling: list[tuple[float, int]] = []  # (seconds, images) of those steps
    for images, target in run.train_loader:
        images = images.to(run.device, non_blocking=True)
        target = target.to(run.device, non_blocking=True)
        if channels_last:
            images = images.contiguous(memory_format=torch.channels_last)
        new_shape = timing and len(target) not in shapes
        t_step = time.perf_counter()
        loss, norm = train_step(
            run.runner,
            images,
            target,
            run.optimizer,
            run.scaler,
            run.autocast,
            aux_weight,
            label_smoothing=run.recipe.label_smoothing,
            clip_grad_norm=run.recipe.clip_grad_norm or None,
        )
        run.scheduler.step()
        if new_shape:
            loss.item()  # waits for the step (once per shape)
            compiling.append((time.perf_counter() - t_step, len(target)))
            shapes.add(len(target))
        if run.averaged is not None:
            run.averaged.update_parameters(run.model)
        loss_sum += loss.detach() * len(target)
        if norm is not None:
            norms.append(norm)
        seen += len(target)
        steps += 1
        if progress is not None and progress.due(steps):
            progress.step(epoch, loss, steps, steps - progress_steps, seen, time.perf_counter() - t0)
            progress_steps = steps
    loss_total, seen_all = all_reduce_sum([float(loss_sum.item()), float(seen)], run.dist, run.device)
    if run.device.type == "cuda":
        torch.cuda.synchronize(run.device)
    seconds = time.perf_counter() - t0
    if timing:
        run.compiled_here = True
        steady_images = seen - sum(n for _, n in compiling)
        if steady_images > 0:  # the compilation: those steps less what they take at the other steps' rate
            per_image = (seconds - sum(t for t, _ in compiling)) / steady_images
            run.compile_seconds = max(0.0, sum(t - per_image * n for t, n in compiling))
            seconds -= run.compile_seconds
    stacked = torch.stack(norms).float() if norms else torch.zeros(0)
    stacked = stacked[torch.isfinite(stacked)]  # fp16 steps that the GradScaler skipped have no norm
    if len(stacked):
        run.grad_norm = {
            "grad_norm": float(stacked.mean()),
            "grad_norm_max": float(stacked.max()),
            "clipped": float((stacked > run.recipe.clip_grad_norm).float().mean()),
        }
    return loss_total / seen_all, int(seen_all), seconds


def _bn_batches(run: Run) -> Iterator[torch.Tensor]:
    """The training batches that batch norm's statistics are recomputed on (``recipe.bn_images`` images)."""
    n = math.ceil(run.recipe.bn_images / run.recipe.batch_size)
    for images, _ in islice(run.train_loader, n):
        images = images.to(run.device, non_blocking=True)
        yield images.contiguous(memory_format=torch.channels_last) if run.recipe.channels_last else images


def _evaluate(run: Run, model: nn.Module) -> dict[str, float]:
    """``model`` on the validation split, its batch-norm statistics first recomputed (precise BN)."""
    if run.recipe.bn_images and has_batch_norm(model):
        recompute_bn_stats(model, _bn_batches(run), run.autocast)
    return evaluate_loader(model, run.val_loader, run.device, run.autocast)


def evaluate_epoch(run: Run, epoch: int, train_loss: float, seen: int, seconds: float) -> dict[str, Any]:
    """Evaluate the raw and the averaged weights, record the epoch (the headline: the averaged weights unless the
    raw ones are better on val top-1) and save a checkpoint."""
    lr = run.epoch_lr
    raw = _evaluate(run, run.model)
    val, weights = raw, "raw"
    if run.averaged is not None:
        ema = _evaluate(run, run.averaged.module)
        if ema["top1"] >= raw["top1"]:
            val, weights = ema, "ema"
    row = {
        "epoch": epoch + 1,
        "train_loss": train_loss,
        "val_loss": val["loss"],
        "val_top1": val["top1"],
        "val_top5": val["top5"],
        "weights": weights,
        "lr": lr,
        "images_per_sec": seen / seconds,
        "seconds": seconds,
    }
    if run.averaged is not None:
        row.update(
            val_top1_raw=raw["top1"], val_loss_raw=raw["loss"], val_top1_ema=ema["top1"], val_loss_ema=ema["loss"]
        )
    row.update(run.grad_norm)
    run.grad_norm = {}
    if run.compile_seconds is not None:  # compiled in this epoch; its images/s leave the compilation out
        row["compile_seconds"], run.compile_seconds = run.compile_seconds, None
    run.history.append(row)
    if run.dist.main:
        checkpoint.save_checkpoint(
            run.folder.checkpoint_path,
            {
                "config": run.config,
                "spec": run.loaded.spec.to_raw(),
                "epoch": epoch + 1,
                "history": run.history,
                "weights": weights,
                "model": run.model.state_dict(),
                "averaged": run.averaged.state_dict() if run.averaged is not None else None,
                "optimizer": run.optimizer.state_dict(),
                "scheduler": run.scheduler.state_dict(),
                "scaler": run.scaler.state_dict(),
                "rng": checkpoint.rng_state(),
            },
        )
        run.folder.write_metrics(run.history)
        run.trackers.epoch(row)
    return row


def _test(run: Run, weights: str) -> dict[str, float]:
    """The headline weights (``weights``: ema | raw) on the test split, once, at the end of the run."""
    if run.test_loader is None:
        return {}
    model = run.averaged.module if weights == "ema" and run.averaged is not None else run.model
    return evaluate_loader(model, run.test_loader, run.device, run.autocast)


def not_learning(run: Run, epoch: int, train_loss: float, val_top1: float) -> str | None:
    """Why the run is not learning after ``epoch`` (1-based), by :mod:`inception_bench.run.guard`; None when it is
    learning, the guard has not reached its share of the run, or it is off."""
    if run.recipe.not_learning == "off":
        return None
    aux = run.loaded.spec.aux
    chance = guard.Chance(run.loaded.spec.num_classes, len(aux.attach) if aux.enabled else 0, aux.loss_weight)
    steps = run.config["resolved"]["steps_per_epoch"]
    share = run.recipe.not_learning_after
    return guard.verdict(chance, epoch, run.recipe.epochs, steps, share, train_loss, val_top1)


def finish(run: Run, status: RunStatus, message: str = "") -> RunRecord:
    """The run's record, written by the main rank: the last epoch's validation figures and, for a completed run,
    its headline weights' test figures."""
    last = run.history[-1] if run.history else {}
    speeds = [h["images_per_sec"] for h in run.history]
    test: dict[str, float] = {}
    if status == RunStatus.completed and last:
        try:
            test = _test(run, last.get("weights", "raw"))
        except torch.OutOfMemoryError:  # trained, and checkpointed: the evaluation can be done on its own
            status = RunStatus.failed
            command = f"ibench eval {shlex.quote(str(run.folder.checkpoint_path))} --split test --batch-size"
            message = (
                f"out of memory evaluating the test split at batch size {run.recipe.batch_size} (the record stays "
                f"failed); the trained checkpoint's test figures: {command} {max(1, run.recipe.batch_size // 4)}"
            )
    record = RunRecord(
        status=status,
        message=message,
        val_top1=last.get("val_top1"),
        val_top5=last.get("val_top5"),
        val_top1_raw=last.get("val_top1_raw"),
        val_top1_ema=last.get("val_top1_ema"),
        weights=last.get("weights"),
        test_top1=test.get("top1"),
        test_top5=test.get("top5"),
        test_loss=test.get("loss"),
        params=run.totals.params,
        ops=run.totals.macs,
        params_all=run.totals.params_all,
        epochs=run.epochs_done,
        train_images_per_sec=float(np.median(speeds)) if speeds else None,
        wall_seconds=time.perf_counter() - run.started,
        device=run.config["device"],
        data=run.data_description,
    )
    if run.dist.main:
        run.folder.write_record(record)
        run.trackers.finish(
            {"test_top1": record.test_top1, "test_top5": record.test_top5, "test_loss": record.test_loss},
            failed=status != RunStatus.completed,
        )
    return record


def train(
    loaded: LoadedSpec,
    recipe: Recipe,
    out: Path,
    resume: bool = False,
    stop_after: int | None = None,
    progress: str = ProgressMode.auto,
    naming: Naming | None = None,
) -> RunRecord:
    """Train ``loaded.spec`` with ``recipe`` into run folder ``out``; returns the run's record.

    ``resume`` continues from ``out``'s checkpoint. ``stop_after`` ends the process's work after that many epochs
    in total without writing a record (status ``interrupted``: an interruption, for tests). ``progress``: a
    :class:`~inception_bench.progress.ProgressMode` (the main rank's). ``naming``: how trackers name the run.
    """
    run = setup(loaded, recipe, RunFolder(Path(out)), resume, naming)
    failed = False  # ended by an error (not an interruption: that resumes): the tracker runs end as failed
    try:
        bar = Progress(
            progress if run.dist.main else ProgressMode.none, recipe.epochs, run.epochs_done, len(run.train_loader)
        )
        how = [precision_reason(recipe.precision, run.config["precision"], run.device, resumed=run.epochs_done > 0)]
        how += ["channels_last"] * recipe.channels_last + ["compiled"] * recipe.compile
        bar.line(f"{run.config['device']}: {', '.join(how)}")
        status, message = RunStatus.completed, ""
        try:
            for epoch in range(run.epochs_done, recipe.epochs):
                if stop_after is not None and epoch >= stop_after:
                    return RunRecord(status=RunStatus.interrupted, epochs=epoch)
                train_loss, seen, seconds = train_epoch(run, epoch, bar)
                if not math.isfinite(train_loss):
                    status = RunStatus.diverged
                    message = (
                        f"training diverged in epoch {epoch + 1}: the loss is {train_loss}; try a lower learning rate"
                    )
                    break
                row = evaluate_epoch(run, epoch, train_loss, seen, seconds)
                bar.line(
                    f"epoch {epoch + 1}/{recipe.epochs}  train loss {train_loss:.4f}  val loss {row['val_loss']:.4f}  "
                    f"top-1 {row['val_top1']:.2%}  top-5 {row['val_top5']:.2%}  lr {row['lr']:.4g}  "
                    f"{row['images_per_sec']:.0f} img/s"
                )
                stuck = not_learning(run, epoch + 1, train_loss, row["val_top1"])
                if stuck is not None and recipe.not_learning == "stop":
                    status, message = RunStatus.not_learning, f"{stuck}; {guard.HINT}"
                    break
                if stuck is not None and not message:  # warn: once, and in the record
                    message = f"warning: {stuck} (going on: --not-learning warn); {guard.HINT}"
                    if run.dist.main:
                        print(message, file=sys.stderr, flush=True)
        except torch.OutOfMemoryError:
            status, message = RunStatus.failed, f"out of memory at batch size {recipe.batch_size}; lower the batch size"
        finally:
            bar.close()
        record = finish(run, status, message)
    except BaseException as e:
        failed = not isinstance(e, KeyboardInterrupt)
        raise
    finally:
        run.trackers.close(failed=failed)
        with suppress(Exception) if failed else nullcontext():  # the error in flight is the one to show
            shutdown(run.dist)  # however the process's part ends after setup (a stop after some epochs included)
    return record
