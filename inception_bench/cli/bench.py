"""``ibench bench``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from inception_bench.bench.settings import Baseline, BenchMode, BenchSettings, Runtime
from inception_bench.cli.app import (
    BENCH,
    AuxOpt,
    BenchFormat,
    CompileModeOpt,
    DeviceOpt,
    Fuse1x1Opt,
    ModuleOpt,
    PrecisionOpt,
    ProgressOpt,
    QuietOpt,
    S2dStemOpt,
    SetOpt,
    _help,
    _progress,
    _say,
    app,
    user_errors,
)
from inception_bench.progress import ProgressMode


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
    mode: Annotated[BenchMode, typer.Option(help=_help(BenchSettings, "mode"))] = BENCH.mode,
    batch_size: Annotated[int, typer.Option(help=_help(BenchSettings, "batch_size"))] = BENCH.batch_size,
    image_size: Annotated[int, typer.Option(help=_help(BenchSettings, "image_size"))] = BENCH.image_size,
    precision: PrecisionOpt = BENCH.precision,
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
    baseline: Annotated[Baseline, typer.Option(help=_help(BenchSettings, "baseline"))] = BENCH.baseline,
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
    runtime: Annotated[Runtime, typer.Option(help=_help(BenchSettings, "runtime"))] = BENCH.runtime,
    torchvision: Annotated[
        bool,
        typer.Option(
            "--torchvision/--no-torchvision",
            help="Measure torchvision's twin of the specs too (googlenet; inception_v3 for inception-v3).",
        ),
    ] = True,
    fmt: Annotated[BenchFormat, typer.Option("--format", help="Output format.")] = BenchFormat.table,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Append the rows to this CSV (or .json) file.")
    ] = None,
    progress: ProgressOpt = ProgressMode.auto,
    quiet: QuietOpt = False,
) -> None:
    """Throughput (images/s, step time), peak memory and MAC rate of variants, vs torchvision's googlenet (or
    inception_v3 for the inception-v3 spec)."""
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
    from inception_bench.ablate.file import is_ablation, variant_specs
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
