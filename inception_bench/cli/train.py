"""``ibench train`` and ``ibench lr-find``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inception_bench.cli.app import (
    RECIPE,
    AuxOpt,
    BatchSizeOpt,
    CompileModeOpt,
    CompileOpt,
    DataOpt,
    DataRootOpt,
    DeviceOpt,
    Fuse1x1Opt,
    LabelSmoothingOpt,
    LogOpt,
    LrBatchOpt,
    ModuleOpt,
    NesterovOpt,
    PrecisionOpt,
    ProgressOpt,
    QuietOpt,
    S2dStemOpt,
    SeedOpt,
    SetOpt,
    TrainSpecArg,
    WeightDecayOpt,
    WorkersOpt,
    _help,
    _progress,
    _variant,
    app,
    user_errors,
)
from inception_bench.progress import ProgressMode
from inception_bench.run.guard import NotLearning
from inception_bench.run.settings import Augmentation, Averaging, Recipe, Schedule
from inception_bench.store import RunFolder, RunStatus


@app.command(
    help=f"Train a variant; writes {RunFolder.CONFIG}, {RunFolder.METRICS}, {RunFolder.CHECKPOINT} and "
    f"{RunFolder.RECORD} into --out.\n\nSeveral GPUs: torchrun --nproc_per_node N -m inception_bench train ... "
    "(batch size is per process)."
)
def train(
    ctx: typer.Context,
    spec: TrainSpecArg = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    data: DataOpt = RECIPE.data,
    data_root: DataRootOpt = RECIPE.data_root,
    recipe: Annotated[Augmentation, typer.Option(help=_help(Recipe, "recipe"))] = RECIPE.recipe,
    image_size: Annotated[int | None, typer.Option(help=_help(Recipe, "image_size"))] = RECIPE.image_size,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = RECIPE.epochs,
    batch_size: BatchSizeOpt = RECIPE.batch_size,
    lr: Annotated[float, typer.Option(help=_help(Recipe, "lr", " Momentum 0.9."))] = RECIPE.lr,
    lr_batch: LrBatchOpt = RECIPE.lr_batch,
    weight_decay: WeightDecayOpt = RECIPE.weight_decay,
    nesterov: NesterovOpt = RECIPE.nesterov,
    schedule: Annotated[Schedule, typer.Option(help=_help(Recipe, "schedule"))] = RECIPE.schedule,
    warmup_epochs: Annotated[float, typer.Option(help=_help(Recipe, "warmup_epochs"))] = RECIPE.warmup_epochs,
    clip_grad_norm: Annotated[float, typer.Option(help=_help(Recipe, "clip_grad_norm"))] = RECIPE.clip_grad_norm,
    label_smoothing: LabelSmoothingOpt = RECIPE.label_smoothing,
    averaging: Annotated[Averaging, typer.Option(help=_help(Recipe, "averaging"))] = RECIPE.averaging,
    ema_decay: Annotated[float | None, typer.Option(help=_help(Recipe, "ema_decay"))] = RECIPE.ema_decay,
    bn_images: Annotated[int, typer.Option(help=_help(Recipe, "bn_images"))] = RECIPE.bn_images,
    not_learning: Annotated[NotLearning, typer.Option(help=_help(Recipe, "not_learning"))] = RECIPE.not_learning,
    not_learning_after: Annotated[
        float, typer.Option(help=_help(Recipe, "not_learning_after"))
    ] = RECIPE.not_learning_after,
    seed: SeedOpt = RECIPE.seed,
    device: DeviceOpt = RECIPE.device,
    precision: PrecisionOpt = RECIPE.precision,
    channels_last: Annotated[
        bool, typer.Option("--channels-last/--no-channels-last", help=_help(Recipe, "channels_last"))
    ] = RECIPE.channels_last,
    compile: CompileOpt = RECIPE.compile,
    compile_mode: CompileModeOpt = RECIPE.compile_mode,
    fuse_1x1: Fuse1x1Opt = RECIPE.fuse_1x1,
    s2d_stem: S2dStemOpt = RECIPE.s2d_stem,
    workers: WorkersOpt = RECIPE.workers,
    log: LogOpt = None,
    out: Annotated[Path, typer.Option("--out", help="Run directory.")] = Path("runs/train"),
    resume: Annotated[bool, typer.Option("--resume", help="Continue the run in --out from its checkpoint.")] = False,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    with user_errors(ctx):
        from inception_bench.run.settings import parse

        loaded = _variant(spec or "small", module, aux, set_)
        from inception_bench.run.tracking import Trackers

        Trackers.check(log or [])
        values = {k: v for k, v in ctx.params.items() if k in Recipe.model_fields}
        settings = parse(Recipe, {**values, "log": log or []}, "recipe")
        from inception_bench.run.train import train as run_training  # torch: after the options are checked

        record = run_training(loaded, settings, out, resume=resume, progress=_progress(progress, quiet))
        if record.status != RunStatus.completed:
            typer.echo(f"error: {record.message} (recorded in {RunFolder(out).record_path})", err=True)
            raise typer.Exit(1)
        test = f", test top-1 {record.test_top1:.2%}" if record.test_top1 is not None else ""
        typer.echo(
            f"{record.status}: val top-1 {record.val_top1:.2%}, top-5 {record.val_top5:.2%}{test} ({record.weights} "
            f"weights) after {record.epochs} epochs, {record.train_images_per_sec:.0f} img/s, "
            f"{record.wall_seconds:.0f} s -> {out}"
        )


@app.command("lr-find")
def lr_find_(
    ctx: typer.Context,
    spec: TrainSpecArg = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    data: DataOpt = RECIPE.data,
    data_root: DataRootOpt = RECIPE.data_root,
    batch_size: BatchSizeOpt = RECIPE.batch_size,
    start_lr: Annotated[float, typer.Option(help="Learning rate of the first step.")] = 1e-5,
    end_lr: Annotated[float, typer.Option(help="Learning rate of the last step (geometric sweep).")] = 10.0,
    steps: Annotated[int, typer.Option(help="Training steps of the sweep (stops early when the loss diverges).")] = 100,
    momentum: Annotated[float, typer.Option(help="SGD momentum.")] = RECIPE.momentum,
    weight_decay: WeightDecayOpt = RECIPE.weight_decay,
    nesterov: NesterovOpt = RECIPE.nesterov,
    lr_batch: LrBatchOpt = RECIPE.lr_batch,
    label_smoothing: LabelSmoothingOpt = RECIPE.label_smoothing,
    seed: SeedOpt = RECIPE.seed,
    device: DeviceOpt = RECIPE.device,
    precision: PrecisionOpt = RECIPE.precision,
    workers: WorkersOpt = RECIPE.workers,
    out: Annotated[Path, typer.Option("--out", help="Folder for lr-find.csv, lr-find.png, lr-find.json.")] = Path(
        "runs/lr-find"
    ),
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    """The learning-rate range test (Smith, 2017): the loss over a geometric learning-rate sweep, and a suggestion."""
    with user_errors(ctx):
        from inception_bench.run.settings import parse

        loaded = _variant(spec or "small", module, aux, set_)
        settings = parse(Recipe, {k: v for k, v in ctx.params.items() if k in Recipe.model_fields}, "recipe")
        from inception_bench.run.lr_find import lr_find, save  # torch: after the options are checked

        shown = _progress(progress, quiet)
        result = lr_find(loaded, settings, start_lr=start_lr, end_lr=end_lr, steps=steps, progress=shown)
        folder = save(result, loaded, settings, out)
        option = settings.lr_option(result.suggested_lr, settings.batch_size)
        typer.echo(
            f"suggested lr {result.suggested_lr:.3g} at batch {settings.batch_size}, i.e. --lr {option:.3g} "
            f"--lr-batch {settings.lr_batch} (steepest descent; the loss minimum / 10: {result.min_loss_lr:.3g}) "
            f"after {len(result.lrs)} steps -> {folder.path / folder.PLOT}"
        )
        if result.caveat:
            typer.echo(f"warning: {result.caveat}", err=True)
