"""The one exception type the CLI turns into a one-line message (no traceback, exit code 2)."""


class IbenchError(Exception):
    """A problem with the user's input: a spec, an option, a data path, a checkpoint or a results file.

    The message is complete on its own: it names the file, field or option and says how to fix it.
    """


class SpecError(IbenchError):
    """An invalid architecture spec or override."""
