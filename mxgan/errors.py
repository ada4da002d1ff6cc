"""Exceptions the command line turns into one line and an exit code."""


class MxganError(Exception):
    """A problem the user can fix: bad input, missing data, unusable device.

    The message is one line naming the problem and the fix; the CLI prints it
    and exits with :attr:`exit_code`.
    """

    exit_code = 2


class DivergenceError(MxganError):
    """A loss or parameter became NaN or Inf during training."""

    exit_code = 3


class Interrupted(MxganError):
    """Training stopped by Ctrl-C after saving a checkpoint."""

    exit_code = 130


class InterruptedTwice(KeyboardInterrupt):
    """A second Ctrl-C while training stopped at the first: no checkpoint is written."""


# what a Ctrl-C before any work began leaves: nothing (a folder holding only run.json is reused by the same command)
STARTUP_INTERRUPTED = "interrupted before training started; nothing was saved (the same command starts over)"
