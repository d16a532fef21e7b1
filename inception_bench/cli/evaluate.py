"""``ibench eval`` (1, 10 or 144 crops; ensembles) and ``ibench export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from inception_bench.cli.app import (
    RECIPE,
    CompileOpt,
    DeviceOpt,
    ExportFormat,
    PrecisionOpt,
    ProgressOpt,
    QuietOpt,
    _help,
    _progress,
    app,
    user_errors,
)
from inception_bench.progress import ProgressMode
from inception_bench.run.settings import Recipe
from inception_bench.store import RunFolder
from inception_bench.store.records import Split


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
        Split, typer.Option(help="val (what runs are compared and tuned on) or test (held out; once, at the end).")
    ] = Split.val,
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
