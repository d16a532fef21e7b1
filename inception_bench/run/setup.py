"""A run's pieces, new or resumed: every check before anything is written (the config against a resumed run's,
the data, the spec), then the device, the data, the model, the optimizer and its schedule, the weight average and
the trackers, restored from the run folder's checkpoint when resuming (:func:`setup`, :class:`Run`). The training
itself: :mod:`inception_bench.run.train`."""

from __future__ import annotations

import platform
import random
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inception_bench.count import Totals, totals
from inception_bench.errors import FieldError, fields_of
from inception_bench.models import GoogLeNet
from inception_bench.run import checkpoint
from inception_bench.run.data import Loaders
from inception_bench.run.distributed import Dist, init_distributed
from inception_bench.run.engine import (
    Autocast,
    WeightAverage,
    autocast_for,
    build_for_run,
    compiled,
    device_name,
    prepare_device,
    resolve_device,
    resolve_precision,
)
from inception_bench.run.settings import Recipe, portable_recipe
from inception_bench.run.tracking import Naming, Trackers
from inception_bench.spec import LoadedSpec, Spec, display_path
from inception_bench.store import RunFolder

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
