"""The ``ibench`` command line (:mod:`~inception_bench.cli.app`: the app, its error mapping and shared options;
one module per command group registers its commands on it). Thin: each command parses its options, calls the
module that does the work and prints what it returns; heavy modules (torch, fvcore, pandas) are imported inside
the commands, so ``ibench --help`` and option errors answer at once."""

from __future__ import annotations

# isort: off
# the command groups register their commands on the app, in the order --help lists them (the flow)
from inception_bench.cli import count, train, evaluate, ablate, bench  # noqa: F401

# isort: on
from inception_bench.cli.app import ExportFormat, app

__all__ = ["ExportFormat", "app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
