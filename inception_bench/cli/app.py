"""The ``ibench`` command line: the app, its error mapping, and the options its commands share (declared
once); the commands are in the modules beside this one, one per command group. Thin: each command parses its
options, calls the module that does the work and prints what it returns. Library errors name fields
(``recipe.lr``); :func:`user_errors` rewrites them into this command's option (``--lr``) and prints one line.
Heavy modules (torch, fvcore, pandas) are imported inside the commands so ``ibench --help`` and option errors
answer at once."""

from __future__ import annotations

import re
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
from inception_bench.run.settings import CompileMode, Precision, Recipe
from inception_bench.spec.registry import list_models

# Click's "Invalid value for '--mode': 'x' is not one of 'train', ..." (its choices, numbers, paths)
_BAD_VALUE = re.compile(r"^Invalid value for '(--[\w-]+)'(?: / '[^']*')*: '(.*?)' (is .*)$", re.S)
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
            message = _BAD_VALUE.sub(r"\1 \2: \3", message)  # --mode x: is not one of ..., as the commands say it
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


RECIPE = Recipe()  # the defaults the options show
BENCH = BenchSettings()


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
        help=f"Architecture spec YAML, or a model name ({', '.join(list_models())}). Default: paper "
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
CompileModeOpt = Annotated[CompileMode, typer.Option(help=_help(Recipe, "compile_mode"))]
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
PrecisionOpt = Annotated[Precision, typer.Option(help=_help(Recipe, "precision"))]
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
