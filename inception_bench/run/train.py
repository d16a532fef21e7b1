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

A run is four steps: :func:`~inception_bench.run.setup.setup` (every check before anything is written, then the
device, the data, the model and the optimizer, restored from the run folder's checkpoint when resuming),
:func:`train_epoch`,
:func:`evaluate_epoch` (then a checkpoint), and :func:`finish` (the :class:`~inception_bench.store.RunRecord`).
The run folder's files: :class:`~inception_bench.store.RunFolder`.
"""

from __future__ import annotations

import math
import shlex
import sys
import time
from collections.abc import Iterator
from contextlib import nullcontext, suppress
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from inception_bench.progress import Progress, ProgressMode
from inception_bench.run import checkpoint, guard
from inception_bench.run.distributed import all_reduce_sum, shutdown
from inception_bench.run.engine import (
    evaluate_loader,
    has_batch_norm,
    precision_reason,
    recompute_bn_stats,
    train_step,
)
from inception_bench.run.settings import Recipe
from inception_bench.run.setup import Run, setup
from inception_bench.run.tracking import Naming
from inception_bench.spec import LoadedSpec
from inception_bench.store import RunFolder, RunRecord, RunStatus


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
