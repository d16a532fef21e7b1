"""The ``ibench`` command line. Thin: each command parses its options, calls the module that does the work and
prints what it returns. Library errors name fields (``recipe.lr``); :func:`user_errors` rewrites them into this
command's option (``--lr``) and prints one line. Heavy modules (torch, fvcore, pandas) are imported inside the
commands so ``ibench --help`` and option errors answer at once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from inception_bench.bench.settings import BenchSettings
from inception_bench.errors import FieldError, IbenchError
from inception_bench.progress import ProgressMode
from inception_bench.run.guard import NotLearning
from inception_bench.run.settings import Recipe
from inception_bench.store import AblationFolder, ReportFolder, RunFolder, RunStatus

_UsageError: Any = typer.BadParameter.__base__  # Click's UsageError, of the Click typer uses (its own since 0.2x)


class _OneLineUsageErrors(TyperGroup):
    """Click's usage errors (an unknown option, a value not among the choices, a missing argument) as one
    ``error:`` line naming the option and pointing at ``--help``, as the commands' own errors are; exit code 2."""

    def main(  # type: ignore[override]  # the signature differs between typer versions; only these are used
        self,
        args: Any = None,
        prog_name: Any = None,
        complete_var: Any = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except _UsageError as e:
            message = e.format_message().replace("Value error, ", "").rstrip(".")  # pydantic's prefix, in typer 0.2x
            if message:  # none: no arguments at all, and the help, already printed, is the answer
                where = e.ctx.command_path if e.ctx else "ibench"
                typer.echo(f"error: {message} (see `{where} --help`)", err=True)
            sys.exit(e.exit_code)
        except typer.Abort:
            typer.echo("error: aborted", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


app = typer.Typer(
    cls=_OneLineUsageErrors,
    help="GoogLeNet (Szegedy et al., 2014) from its architecture table: count, train, ablate, report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root() -> None:
    """GoogLeNet (Szegedy et al., 2014) from its architecture table: count, train, ablate, report."""


class ModuleKind(StrEnum):
    reduced = "reduced"
    naive = "naive"


class CountFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"
    markdown = "markdown"


RECIPE, BENCH = Recipe(), BenchSettings()  # the defaults the options show


class AblateBackend(StrEnum):
    local = "local"
    ray = "ray"


class ExportFormat(StrEnum):  # export.FORMATS (torch-free here; a test keeps them equal)
    onnx = "onnx"
    torchscript = "torchscript"
    pt2 = "pt2"


class BenchFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


def _help(cls: type[Any], name: str, extra: str = "") -> str:
    """An option's help: the settings field's description (one statement of each fact)."""
    description = cls.model_fields[name].description or ""
    return (description[:1].upper() + description[1:] + "." if description else "") + extra


SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Architecture spec YAML, or a model name (paper, small, torchvision). Default: paper "
        "(specs/googlenet.yaml, the paper's Table 1).",
        show_default=False,
    ),
]
ModuleOpt = Annotated[
    ModuleKind | None,
    typer.Option("--module", help="Inception module: reduced (Figure 2b) or naive (Figure 2a). Default: the spec's."),
]
AuxOpt = Annotated[
    bool | None,
    typer.Option("--aux/--no-aux", help="Auxiliary classifiers on or off. Default: the spec's.", show_default=False),
]
SetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        help="Override a spec field, repeatable: FIELD=V, aux.FIELD=V or layers.ID.COLUMN=V "
        "(e.g. --set width_mult=0.5 --set layers.4e.5x5=0).",
        show_default=False,
    ),
]
CompileOpt = Annotated[bool, typer.Option("--compile", help=_help(Recipe, "compile"))]
CompileModeOpt = Annotated[str, typer.Option(help=_help(Recipe, "compile_mode"))]
Fuse1x1Opt = Annotated[bool, typer.Option("--fuse-1x1", help=_help(Recipe, "fuse_1x1"))]
S2dStemOpt = Annotated[
    bool, typer.Option("--s2d-stem", help=_help(Recipe, "s2d_stem", " Stride-2 stems only (a GPU speed option)."))
]
DeviceOpt = Annotated[str, typer.Option(help=_help(Recipe, "device"))]
# the options of the commands that train (train, lr-find), with Recipe's help and defaults
TrainSpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Architecture spec YAML, or a model name. Default: small (specs/googlenet-small.yaml, 32x32 inputs).",
        show_default=False,
    ),
]
DataOpt = Annotated[str, typer.Option(help=_help(Recipe, "data"))]
DataRootOpt = Annotated[str, typer.Option(help=_help(Recipe, "data_root"))]
BatchSizeOpt = Annotated[int, typer.Option(help=_help(Recipe, "batch_size"))]
PrecisionOpt = Annotated[str, typer.Option(help=_help(Recipe, "precision"))]
LrBatchOpt = Annotated[int, typer.Option(help=_help(Recipe, "lr_batch"))]
WeightDecayOpt = Annotated[float, typer.Option(help="Weight decay.")]
NesterovOpt = Annotated[bool, typer.Option("--nesterov/--no-nesterov", help=_help(Recipe, "nesterov"))]
LabelSmoothingOpt = Annotated[float, typer.Option(help=_help(Recipe, "label_smoothing"))]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
WorkersOpt = Annotated[int, typer.Option(help=_help(Recipe, "workers"))]
LogOpt = Annotated[
    list[str] | None,
    typer.Option("--log", help=_help(Recipe, "log", " Repeatable."), show_default=False),
]


ProgressOpt = Annotated[
    ProgressMode,
    typer.Option(
        help="auto: a live bar on a terminal, plain lines elsewhere; plain: plain lines only (a line per epoch or "
        "run, a heartbeat at most once a minute); none: errors and the result only."
    ),
]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress output: the same as --progress none.")]


def _progress(progress: ProgressMode, quiet: bool) -> ProgressMode:
    return ProgressMode.none if quiet else progress


def _say(text: str) -> None:
    """A progress line on stderr (stdout stays the command's output)."""
    typer.echo(text, err=True)


def _as_option(ctx: typer.Context, e: FieldError) -> str | None:
    """A field error in terms of the command's option that sets the field (``recipe.lr=0`` -> ``--lr 0``, a spec
    field -> ``--set FIELD=V``), if it has one."""
    options = {opt for p in ctx.command.params for opt in getattr(p, "opts", ())}
    parts = e.field.split(".")
    if len(parts) == 2 and parts[0] == "spec" and "--set" in options:
        return f"--set {parts[1]}{e.value_text('=')}"
    if len(parts) == 2 and parts[0] in ("recipe", "bench"):
        parts = parts[1:]
    flag = "--" + parts[0].replace("_", "-")
    return f"{flag}{e.value_text(' ')}" if len(parts) == 1 and flag in options else None


@contextmanager
def user_errors(ctx: typer.Context) -> Iterator[None]:
    """Turn an :class:`IbenchError` into one line on stderr and exit code 2 (no traceback); a field the command
    sets through an option is named by that option."""
    try:
        yield
    except FieldError as e:
        option = _as_option(ctx, e)
        message = f"{option}: {e.why}" if option else str(e)
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    except IbenchError as e:
        message = str(e)
        if "Original Traceback" in message:  # re-raised from a DataLoader worker: keep the error's own line
            message = message.strip().splitlines()[-1].split("IbenchError: ", 1)[-1]
        typer.echo(f"error: {message}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        typer.echo(f"error: interrupted{_AFTER_INTERRUPT.get(ctx.command.name or '', '')}", err=True)
        raise typer.Exit(130) from None


_AFTER_INTERRUPT = {  # what a command interrupted has kept, and how to go on
    "train": "; add --resume to the same command to continue from the last finished epoch",
    "ablate": "; run the same command again to continue (finished runs are kept, an interrupted one resumes)",
}


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from inception_bench.store import atomic_write_text

    atomic_write_text(output, text)
    typer.echo(f"wrote {output}", err=True)


def _variant(spec: Path | str | None, module: ModuleKind | None, aux: bool | None, sets: list[str] | None) -> Any:
    from inception_bench.spec import resolve_spec, variant_overrides

    return resolve_spec(spec or "paper", variant_overrides(module.value if module else None, aux, sets))


@app.command()
def count(
    ctx: typer.Context,
    spec: SpecArg = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    fmt: Annotated[CountFormat, typer.Option("--format", help="Output format.")] = CountFormat.table,
    compare: Annotated[
        bool, typer.Option("--compare", help="Naive vs reduced modules side by side, per row and in total.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output", "-o", help="Write to this file instead of stdout (format table is written as Markdown)."
        ),
    ] = None,
) -> None:
    """Parameters and multiply-adds per Table 1 row, against the paper's printed figures."""
    with user_errors(ctx):
        loaded = _variant(spec, module, aux, set_)  # before importing torch: option errors answer at once
        from inception_bench.count import compare_modules, render
        from inception_bench.count import count as count_rows

        if compare:
            cmp, notes = compare_modules(loaded)
            if fmt is CountFormat.json:
                _write_or_print(render.compare_json(cmp), output)
            elif fmt is CountFormat.csv:
                _write_or_print(render.compare_csv(cmp), output)
            else:
                _write_or_print(render.compare_markdown(cmp, notes), output)
            return
        report = count_rows(loaded)
        if fmt is CountFormat.table and output is None:
            from rich.console import Console

            console = Console(highlight=False, width=max(Console().width, 112))
            header, table, footer = render.rich_table(report)
            for line in [*header, table, *footer]:
                console.print(line, soft_wrap=True)
        elif fmt is CountFormat.json:
            _write_or_print(render.to_json(report) + "\n", output)
        elif fmt is CountFormat.csv:
            _write_or_print(render.to_csv(report), output)
        else:
            command = "ibench count " + " ".join(sys.argv[2:]) if output is not None else None
            _write_or_print(render.to_markdown(report, command), output)


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
    recipe: Annotated[str, typer.Option(help=_help(Recipe, "recipe"))] = RECIPE.recipe,
    image_size: Annotated[int | None, typer.Option(help=_help(Recipe, "image_size"))] = RECIPE.image_size,
    epochs: Annotated[int, typer.Option(help="Epochs.")] = RECIPE.epochs,
    batch_size: BatchSizeOpt = RECIPE.batch_size,
    lr: Annotated[float, typer.Option(help=_help(Recipe, "lr", " Momentum 0.9."))] = RECIPE.lr,
    lr_batch: LrBatchOpt = RECIPE.lr_batch,
    weight_decay: WeightDecayOpt = RECIPE.weight_decay,
    nesterov: NesterovOpt = RECIPE.nesterov,
    schedule: Annotated[str, typer.Option(help=_help(Recipe, "schedule"))] = RECIPE.schedule,
    warmup_epochs: Annotated[float, typer.Option(help=_help(Recipe, "warmup_epochs"))] = RECIPE.warmup_epochs,
    clip_grad_norm: Annotated[float, typer.Option(help=_help(Recipe, "clip_grad_norm"))] = RECIPE.clip_grad_norm,
    label_smoothing: LabelSmoothingOpt = RECIPE.label_smoothing,
    averaging: Annotated[str, typer.Option(help=_help(Recipe, "averaging"))] = RECIPE.averaging,
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


@app.command("eval")
def eval_(
    ctx: typer.Context,
    checkpoints: Annotated[
        list[Path] | None, typer.Argument(help=f"{RunFolder.CHECKPOINT} files; several = an ensemble.")
    ] = None,
    data: Annotated[
        str | None,
        typer.Option(help="Data set to evaluate on. Default: the checkpoint's.", show_default=False),
    ] = None,
    data_root: Annotated[Path, typer.Option(help=_help(Recipe, "data_root"))] = Path(RECIPE.data_root),
    split: Annotated[
        str, typer.Option(help="val (what runs are compared and tuned on) or test (held out; once, at the end).")
    ] = "val",
    crops: Annotated[int, typer.Option(help="1 (center), 10 (TenCrop) or 144 (the paper's protocol).")] = 1,
    batch_size: Annotated[int, typer.Option(help="Crops per forward pass (rounded to whole images).")] = 256,
    device: DeviceOpt = RECIPE.device,
    precision: PrecisionOpt = RECIPE.precision,
    channels_last: Annotated[
        bool, typer.Option("--channels-last/--no-channels-last", help=_help(Recipe, "channels_last"))
    ] = RECIPE.channels_last,
    compile: CompileOpt = RECIPE.compile,
    weights: Annotated[
        str | None, typer.Option(help="Add torchvision's googlenet: 'torchvision' (IMAGENET1K_V1) or a .pth path.")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="JSON record. Default: eval-<crops>crop.json in the checkpoint's run folder (where `ibench report` "
            "finds it), or in the current folder for an ensemble.",
            show_default=False,
        ),
    ] = None,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    """Top-1/top-5 accuracy and error of checkpoints (softmax averaged over crops and models)."""
    with user_errors(ctx):
        from rich.console import Console

        from inception_bench.evaluate.multicrop import evaluate, rich_table
        from inception_bench.store import eval_record_path

        one_run = checkpoints[0].parent if checkpoints and len(checkpoints) == 1 and weights is None else None
        folder = one_run or Path(".")  # one run's record goes into its run folder
        target = out or eval_record_path(crops, folder, split=split)
        r = evaluate(
            checkpoints or [],
            data=data,
            data_root=str(data_root),
            split=split,
            crops=crops,
            batch_size=batch_size,
            device=device,
            precision=precision,
            channels_last=channels_last,
            compile=compile,
            weights=weights,
            out=target,
            progress=_progress(progress, quiet),
        )
        Console(highlight=False).print(rich_table(r))
        typer.echo(f"wrote {target}")


@app.command("export")
def export_(
    ctx: typer.Context,
    checkpoint: Annotated[Path, typer.Argument(help=f"A run's {RunFolder.CHECKPOINT}.")],
    fmt: Annotated[
        ExportFormat, typer.Option("--format", help="onnx (onnxruntime, ...), torchscript, or pt2 (torch.export).")
    ] = ExportFormat.onnx,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="File to write. Default: model.onnx, model.ts.pt or model.pt2 by the checkpoint."),
    ] = None,
) -> None:
    """The trained network for deployment: eval mode, no aux heads, batch size free; checked by running the file
    (ONNX in onnxruntime) against the PyTorch model's logits before it is written."""
    with user_errors(ctx):
        from inception_bench.evaluate.export import FORMATS, export_checkpoint

        target = out or checkpoint.parent / f"model{FORMATS[fmt]}"
        done = export_checkpoint(checkpoint, fmt.value, target)
        shape = "x".join(map(str, done.input_shape))
        typer.echo(
            f"wrote {done.path} ({fmt.value}, {done.path.stat().st_size / 1e6:.1f} MB, {done.seconds:.0f} s); "
            f"checked on a {shape} batch: logits within {done.max_abs_diff:.2g} of PyTorch's "
            f"(allowed {done.tolerance:.2g})"
        )


@app.command(
    help="Run every (variant, seed) of an ablation; resumable, failure-isolated, parallel. Writes "
    f"DIR/{AblationFolder.RESULTS}."
)
def ablate(
    ctx: typer.Context,
    ablation: Annotated[
        Path, typer.Argument(help="Ablation YAML, or a shipped one's name (paper, quick, ...: specs/ablations/).")
    ],
    out: Annotated[Path | None, typer.Option("--out", help="Output folder. Default: runs/<ablation name>.")] = None,
    backend: Annotated[
        AblateBackend,
        typer.Option(
            help="local: one worker process per run on this machine; ray: one Ray task per run on a Ray cluster "
            "(pip install 'inception-bench\\[ray]')."
        ),
    ] = AblateBackend.local,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Runs at once. Default: 1 locally (one process each); with --backend ray, as many as the cluster "
            "has room for.",
            show_default=False,
        ),
    ] = None,
    devices: Annotated[
        str | None, typer.Option(help="GPUs to use, one run per GPU at a time, e.g. 0,1,2,3 (overrides --jobs).")
    ] = None,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="With --backend ray: the cluster to run on (auto, or HOST:PORT of its head). Default: RAY_ADDRESS "
            "if set, else start Ray on this machine."
        ),
    ] = None,
    cpus_per_run: Annotated[
        int | None,
        typer.Option(
            help="With --backend ray: CPUs per run (a run without a GPU: its torch threads). Runs ask for a GPU as "
            "well where the cluster has GPUs and the recipe's device is not cpu. Default: 1.",
            show_default=False,
        ),
    ] = None,
    max_retries: Annotated[
        int | None,
        typer.Option(
            help="With --backend ray: how often a run whose worker or node dies is retried (each retry resumes its "
            "checkpoint). Default: 2.",
            show_default=False,
        ),
    ] = None,
    shard: Annotated[str | None, typer.Option(help="Run only shard i of n (i/n), for splitting over machines.")] = None,
    retry_failed: Annotated[
        bool, typer.Option("--retry-failed", help="Redo failed, diverged and not-learning runs.")
    ] = False,
    rerun_changed: Annotated[
        bool, typer.Option("--rerun-changed", help="Discard and redo runs whose config no longer matches the file.")
    ] = False,
    log: LogOpt = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Check that every variant builds and (locally) its data loads, print the plan; run none.",
        ),
    ] = False,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    with user_errors(ctx):
        from inception_bench import ablate as abl
        from inception_bench.ablate.protocol import run_tuning, tuning_shard

        ablation = abl.ablation_path(ablation)
        engine = abl.make_backend(backend, jobs, devices, ray_address, cpus_per_run, max_retries)
        shown = _progress(progress, quiet)
        from inception_bench.run.tracking import Trackers

        Trackers.check(log or [])  # known and installed, before any run starts
        plan = abl.plan_ablation(ablation, out, log)
        runs = abl.select_shard(plan.runs, shard)
        if shown != ProgressMode.none:
            typer.echo(abl.describe(plan) + (f"; shard {shard}: {len(runs)} runs" if shard else ""), err=True)
        starting = [
            r
            for r in tuning_shard(plan, shard) + runs
            if abl.will_run(r, retry_failed=retry_failed, rerun_changed=rerun_changed)
        ]
        Trackers.check(sorted({name for r in starting for name in r.recipe["log"]}))  # the file's recipe.log too
        if backend != AblateBackend.ray:  # under Ray the nodes load the data; a ray:// driver may not see it
            abl.check_data(plan, starting)  # (every variant was built when the plan was made)
        if dry_run:
            from rich.console import Console

            Console(width=160).print(abl.plan_table(plan, tuning_shard(plan, shard) + runs))
            return
        tuning_changed: list[tuple[str, int]] = []
        with engine:  # a Ray backend stays connected from the tuning runs to the seeds
            if plan.tuning:  # first the tuning runs, rung by rung; then the seeds, at the values chosen
                tuned = run_tuning(
                    engine,
                    lambda: abl.plan_ablation(ablation, out, log),
                    shard,
                    retry_failed=retry_failed,
                    rerun_changed=rerun_changed,
                    progress=shown,
                )
                for variant, _, status, error in tuned.failed:
                    typer.echo(f"  tuning run {status}: {variant}: {error}", err=True)
                tuning_changed = tuned.changed
                plan = tuned.plan
                runs = abl.select_shard(plan.runs, shard)
                if tuned.adopted and shown != ProgressMode.none:
                    typer.echo(
                        f"  {len(tuned.adopted)} first-seed runs are their variant's chosen tuning run (copied)",
                        err=True,
                    )
                waiting = sum(r.status == "waiting" for r in runs)
                if waiting and not tuning_changed:
                    typer.echo(
                        f"  {waiting} runs wait for tuning runs of other shards; run this again when they are done"
                    )
            summary = engine.run(plan, runs, retry_failed=retry_failed, rerun_changed=rerun_changed, progress=shown)
        typer.echo(
            f"{summary.completed}/{summary.total} runs completed ({summary.ran} run now, "
            f"{summary.seconds:.0f} s) -> {summary.results}"
        )
        for variant, seed, status, error in summary.failed:
            typer.echo(f"  {status}: {variant} seed {seed}: {error}", err=True)
        for variant, seed in summary.changed + tuning_changed:
            typer.echo(
                f"  changed: {variant} seed {seed}{' (tuning run)' if (variant, seed) in tuning_changed else ''}: its "
                "recorded config differs from the ablation file; not mixed in (use --rerun-changed to redo it)",
                err=True,
            )
        if summary.failed or summary.changed or tuning_changed:
            raise typer.Exit(1)


@app.command()
def report(
    ctx: typer.Context,
    folders: Annotated[
        list[Path], typer.Argument(help="`ibench ablate` --out folders, run directories, `ibench bench` CSV files.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
    target_top1: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=100.0,
            help="Time to accuracy: the validation top-1 % runs are timed to. Default: each study's baseline's median "
            "final validation top-1 minus 1 point.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Tables, words and plots from ablations: report.md (+ PNGs), self-contained report.html, summary.csv."""
    with user_errors(ctx):
        from inception_bench.report import write_report

        result = write_report(folders, out, None if target_top1 is None else target_top1 / 100)
        files = f"{ReportFolder.MARKDOWN}, {ReportFolder.HTML} and {ReportFolder.SUMMARY}"
        typer.echo(f"wrote {out}/{files} ({len(result.summary)} variants)")
        if result.answers:
            typer.echo("\nAnswers:")
            for answer in result.answers:
                typer.echo("  " + answer.replace("**", "").replace("*", ""))


@app.command("bench")
def bench_(
    ctx: typer.Context,
    spec: Annotated[
        Path | None,
        typer.Argument(
            help="A spec or an ablation YAML (all its variants). Default: the paper's spec and the "
            "torchvision-compatible one.",
            show_default=False,
        ),
    ] = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    mode: Annotated[str, typer.Option(help="train | infer | both.")] = BENCH.mode,
    batch_size: Annotated[int, typer.Option(help=_help(BenchSettings, "batch_size"))] = BENCH.batch_size,
    image_size: Annotated[int, typer.Option(help=_help(BenchSettings, "image_size"))] = BENCH.image_size,
    precision: Annotated[str, typer.Option(help=_help(BenchSettings, "precision"))] = BENCH.precision,
    channels_last: Annotated[
        bool, typer.Option("--channels-last/--no-channels-last", help=_help(BenchSettings, "channels_last"))
    ] = BENCH.channels_last,
    compile: Annotated[
        bool | None,
        typer.Option("--compile/--no-compile", help=_help(BenchSettings, "compile"), show_default=False),
    ] = BENCH.compile,
    compile_mode: CompileModeOpt = BENCH.compile_mode,
    inductor: Annotated[
        list[str] | None,
        typer.Option(
            help="torch._inductor.config KEY=VALUE for compiled steps, repeatable (e.g. freezing=true for inference).",
            show_default=False,
        ),
    ] = None,
    baseline: Annotated[str, typer.Option(help=_help(BenchSettings, "baseline"))] = BENCH.baseline,
    rounds: Annotated[int, typer.Option(help=_help(BenchSettings, "rounds"))] = BENCH.rounds,
    detail: Annotated[bool, typer.Option("--detail", help=_help(BenchSettings, "detail"))] = BENCH.detail,
    fuse_1x1: Fuse1x1Opt = BENCH.fuse_1x1,
    s2d_stem: S2dStemOpt = BENCH.s2d_stem,
    device: DeviceOpt = BENCH.device,
    steps: Annotated[int, typer.Option(help=_help(BenchSettings, "steps"))] = BENCH.steps,
    warmup: Annotated[int, typer.Option(help=_help(BenchSettings, "warmup"))] = BENCH.warmup,
    peak_tmacs: Annotated[
        float | None, typer.Option(help=_help(BenchSettings, "peak_tmacs"), show_default=False)
    ] = None,
    runtime: Annotated[str, typer.Option(help=_help(BenchSettings, "runtime"))] = BENCH.runtime,
    torchvision: Annotated[
        bool, typer.Option("--torchvision/--no-torchvision", help="Measure torchvision's googlenet too.")
    ] = True,
    fmt: Annotated[BenchFormat, typer.Option("--format", help="Output format.")] = BenchFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Append the rows to this CSV (or .json) file.")
    ] = None,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    """Throughput (images/s, step time), peak memory and MAC rate of variants, vs torchvision's googlenet."""
    with user_errors(ctx):
        from inception_bench.run.settings import parse
        from inception_bench.spec import parse_overrides, variant_overrides

        values = {name: value for name, value in ctx.params.items() if name in BenchSettings.model_fields}
        values["inductor"] = parse_overrides(inductor, "inductor", "freezing=true")
        settings = parse(BenchSettings, values, "bench")
        overrides = variant_overrides(module.value if module else None, aux, set_)
        from inception_bench.bench import rows as bench_rows  # torch: after the options are checked
        from inception_bench.bench import runner

        if output is not None:
            bench_rows.check_output(output)  # before minutes of measuring, not after
        shown = _progress(progress, quiet)
        say = _say if shown != ProgressMode.none else lambda _: None
        rows = runner.bench(_bench_targets(spec, overrides), settings, torchvision=torchvision, say=say, progress=shown)
        if fmt is BenchFormat.json:
            sys.stdout.write(bench_rows.rows_json(rows))
        elif fmt is BenchFormat.csv:
            sys.stdout.write(bench_rows.rows_csv(rows))
        else:
            from rich.console import Console

            Console(width=max(Console().width, 180)).print(bench_rows.rich_table(rows))
        if output is not None:  # after printing: the figures are on the screen whatever happens to the file
            bench_rows.append_rows(rows, output)


def _bench_targets(path: Path | None, overrides: dict[str, Any]) -> list[tuple[str, Any]]:
    """The named variants ``ibench bench`` measures: the paper's spec and the torchvision-compatible one (no
    ``path``), one spec file, or every variant of an ablation file; ``overrides`` applied to each."""
    from inception_bench.ablate.plan import is_ablation, variant_specs
    from inception_bench.spec import MODELS, display_path, read_yaml, resolve_spec

    if path is None:
        return [
            ("googlenet (paper)", resolve_spec("paper", overrides)),
            ("googlenet-torchvision spec", resolve_spec("torchvision", overrides)),
        ]
    if str(path) not in MODELS and is_ablation(read_yaml(path)):
        return [(name, loaded.with_overrides(overrides)) for name, loaded in variant_specs(path)]
    loaded = resolve_spec(path, overrides)
    return [(display_path(loaded.path), loaded)]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
