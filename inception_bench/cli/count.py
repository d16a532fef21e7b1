"""``ibench count``: params and multiply-adds per Table 1 row against the paper."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from inception_bench.cli.app import (
    AuxOpt,
    CountFormat,
    ModuleOpt,
    SetOpt,
    SpecArg,
    _variant,
    _write_or_print,
    app,
    user_errors,
)


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
