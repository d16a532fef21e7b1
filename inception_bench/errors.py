"""The one exception type the CLI turns into a one-line message (no traceback, exit code 2)."""

import sys
from collections.abc import Callable


class IbenchError(Exception):
    """A problem with the user's input: a spec, an option, a data path, a checkpoint or a results file.

    The message is complete on its own: it names the file, field or option and says how to fix it.
    """


class SpecError(IbenchError):
    """An invalid architecture spec or override."""


def run_script(main: Callable[[], None]) -> None:
    """Run a script's ``main`` as the CLI runs a command: an :class:`IbenchError` becomes one line on stderr and
    exit code 2 (``scripts/``; the CLI itself uses ``cli.user_errors``, which goes through typer)."""
    try:
        main()
    except IbenchError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)
