"""The ``mxgan`` logger on a terminal: library code logs its messages; a command (or ``mxgan.train`` where
nobody configured logging) prints them, above a progress bar."""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager

from tqdm import tqdm


class _ConsoleHandler(logging.Handler):
    """The ``mxgan`` logger's messages on the terminal, above the progress bar: information on the standard
    output as it is, warnings on the standard error after ``warning:``."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
            if record.levelno >= logging.WARNING:
                tqdm.write(f"warning: {message}", file=sys.stderr)
            else:
                tqdm.write(message, file=sys.stdout)
        except BrokenPipeError:
            raise
        except Exception:
            self.handleError(record)


@contextmanager
def console_messages(command: bool = False) -> Iterator[None]:
    """Within the block, the ``mxgan`` logger's messages (INFO and up) are printed. ``command``: always, and only
    here (a command is the program: its messages are its output); else (the library's ``mxgan.train``) unless
    whoever runs mxgan configured logging (a handler on ``mxgan`` or the root logger): then they go there."""
    logger = logging.getLogger("mxgan")
    if not command and (logger.handlers or logging.getLogger().handlers):
        yield
        return
    handler, level, propagate = _ConsoleHandler(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.propagate = propagate and not command
    if level == logging.NOTSET:
        logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate
