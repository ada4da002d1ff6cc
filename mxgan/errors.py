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
    """Training stopped by a signal (Ctrl-C, SIGTERM, SIGHUP, SIGUSR1) after saving a checkpoint."""

    def __init__(self, message: str, exit_code: int = 130) -> None:
        super().__init__(message)
        self.exit_code = exit_code
