"""The exceptions the CLI turns into one line (no traceback, exit code 2).

Library code names what is wrong in its own words: a file, or a field of a typed record (``recipe.momentum``,
``bench.batch_size``, ``spec.in_channels``) or a function's parameter (``crops``). Only ``cli.py`` knows which
command-line option sets which field; it rewrites a :class:`FieldError` into that option's name
(``--lr 0: ...``), and an ablation file keeps the field's (``recipe.momentum=1.5: ...``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

_NO_VALUE: Any = object()


class IbenchError(Exception):
    """A problem with the user's input: a spec, an option, a data path, a checkpoint or a results file.

    The message is complete on its own: it names the file, field or option and says how to fix it.
    """


class SpecError(IbenchError):
    """An invalid architecture spec or override."""


class FieldError(IbenchError):
    """A bad value of one named field: ``field`` is its dotted name (``recipe.lr``), ``value`` what was given
    (left out of the message for flags), ``why`` what is wrong and how to fix it.

    ``str(error)`` reads ``recipe.lr=0: Input should be greater than 0``; the CLI prints ``--lr 0: ...``.
    """

    def __init__(self, field: str, why: str, value: Any = _NO_VALUE) -> None:
        self.field, self.why, self.value = field, why, value
        super().__init__(f"{field}{self.value_text('=')}: {why}")

    @property
    def has_value(self) -> bool:
        return self.value is not _NO_VALUE

    def value_text(self, separator: str) -> str:
        """``separator`` + the value as typed (``=0``, `` 0``; a mapping as ``k=v,...``), or nothing for a flag."""
        if not self.has_value:
            return ""
        value = self.value
        if isinstance(value, dict):
            value = ",".join(f"{k}={v}" for k, v in value.items())
        return f"{separator}{value}"

    def within(self, prefix: str) -> FieldError:
        """The same error for a field nested one level down (``lr`` -> ``recipe.lr``)."""
        return FieldError(f"{prefix}.{self.field}", self.why, self.value)


def one_line(e: BaseException, limit: int = 300) -> str:
    """A foreign exception (torch's exporters, Ray, an image reader) for a one-line message: its type, then its
    text with whitespace collapsed, cut at ``limit`` characters."""
    return f"{type(e).__name__}: {' '.join(str(e).split())[:limit]}"


@contextmanager
def fields_of(prefix: str) -> Iterator[None]:
    """Field errors raised inside are about the fields of ``prefix`` (``device`` -> ``recipe.device``): for code
    that passes a record's values to functions that name their own parameters."""
    try:
        yield
    except FieldError as e:
        raise e.within(prefix) from None


def field_error(prefix: str, error: Any) -> FieldError:
    """The first problem of a pydantic ``ValidationError`` as a :class:`FieldError` under ``prefix``."""
    first = error.errors()[0]
    field = ".".join([prefix, *(str(part) for part in first["loc"])]) if first["loc"] else prefix
    why = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        why = "unknown field; check its spelling"
    more = len(error.errors()) - 1
    return FieldError(field, why + (f" (and {more} more)" if more else ""), first.get("input", _NO_VALUE))


def run_script(main: Callable[[], None]) -> None:
    """Run a script's ``main`` as the CLI runs a command: an :class:`IbenchError` becomes one line on stderr and
    exit code 2 (``scripts/``; the CLI itself uses ``cli.user_errors``, which goes through typer)."""
    try:
        main()
    except IbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
