"""The ``ibench`` command line. Thin: each command parses its options and calls the module that does the
work. Heavy modules (torch, fvcore, pandas) are imported inside the commands so ``ibench --help`` and option
errors answer at once."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from inception_bench.errors import IbenchError

app = typer.Typer(
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


SpecArg = Annotated[
    Path | None,
    typer.Argument(
        help="Architecture spec YAML. Default: specs/googlenet.yaml (the paper's Table 1).", show_default=False
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


@contextmanager
def user_errors() -> Iterator[None]:
    """Turn an :class:`IbenchError` into one line on stderr and exit code 2 (no traceback)."""
    try:
        yield
    except IbenchError as e:
        typer.echo(f"error: {e}", err=True)
        raise typer.Exit(2) from None


def _write_or_print(text: str, output: Path | None) -> None:
    if output is None:
        sys.stdout.write(text)
        return
    from inception_bench.results import atomic_write_text

    try:
        atomic_write_text(output, text)
    except OSError as e:
        raise IbenchError(f"--output {output}: cannot write ({e.strerror}); choose a writable path") from None
    typer.echo(f"wrote {output}", err=True)


@app.command()
def count(
    spec: SpecArg = None,
    module: ModuleOpt = None,
    aux: AuxOpt = None,
    set_: SetOpt = None,
    fmt: Annotated[CountFormat, typer.Option("--format", help="Output format.")] = CountFormat.table,
    compare: Annotated[
        bool, typer.Option("--compare", help="Naive vs reduced modules side by side, per row and in total.")
    ] = False,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Parameters and multiply-adds per Table 1 row, against the paper's printed figures."""
    with user_errors():
        from inception_bench import count as counting
        from inception_bench.spec import load_spec, variant_overrides

        overrides = variant_overrides(module.value if module else None, aux, set_)
        if compare:
            reports = [counting.count(load_spec(spec, {**overrides, "module": kind})) for kind in ("reduced", "naive")]
            cmp = counting.compare(reports[0], reports[1], ("reduced", "naive"))
            if fmt is CountFormat.json:
                import json

                _write_or_print(json.dumps(cmp, indent=2) + "\n", output)
            elif fmt is CountFormat.csv:
                import csv
                import io

                buf = io.StringIO()
                writer = csv.DictWriter(buf, list(cmp["rows"][0]), lineterminator="\n")
                writer.writeheader()
                writer.writerows(cmp["rows"] + [{"id": "total", "name": "total", **cmp["total"]}])
                _write_or_print(buf.getvalue(), output)
            else:
                text = counting.compare_markdown(cmp) + "\n" + counting.compare_summary(cmp) + "\n"
                notes = "".join(f"note: {n}\n" for n in reports[1].notes)
                _write_or_print(notes + "\n" + text, output)
            return
        report = counting.count(load_spec(spec, overrides))
        if fmt is CountFormat.table and output is None:
            counting.render_table(report)
        elif fmt is CountFormat.json:
            _write_or_print(counting.to_json(report) + "\n", output)
        elif fmt is CountFormat.csv:
            _write_or_print(counting.to_csv(report), output)
        else:
            command = "ibench count " + " ".join(sys.argv[2:]) if output is not None else None
            _write_or_print(counting.to_markdown(report, command), output)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
