"""Ctrl-C, SIGTERM, SIGHUP and SIGUSR1: what ``kill``, ``timeout``, systemd, Slurm and Docker send to stop a
program.

Outside training each of them interrupts the command like Ctrl-C (:class:`Stopped`, a KeyboardInterrupt
that knows its signal), so the command can say what it had written. In training,
:class:`StopRequests` turns the first one into a request that the loop honours after the current step,
with a checkpoint; a second one stops at once. Exit codes follow the shell's 128 + signal number.

Slurm users: ``sbatch --signal=USR1@120`` (``#SBATCH --signal=USR1@120``) sends SIGUSR1 to the job's steps two
minutes before the time limit, so the run checkpoints and exits with 138; ``mxgan train --resume RUN`` in the
next job continues it (without ``--signal``, Slurm's SIGTERM at the limit does the same, with
``KillWait`` seconds to do it in).
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# signal: (how a message names it, the exit code it ends a command with)
STOP_SIGNALS = {signal.SIGINT: ("Ctrl-C", 130), signal.SIGTERM: ("SIGTERM", 143), signal.SIGHUP: ("SIGHUP", 129),
                signal.SIGUSR1: ("SIGUSR1", 138)}
RETRY_DELAY = 0.01  # seconds: a signal that came where raising would lose it is sent again this much later


class Stopped(KeyboardInterrupt):
    """A stop signal arrived while a command was running."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return STOP_SIGNALS[signal.Signals(self.signum)][0]

    @property
    def exit_code(self) -> int:
        return STOP_SIGNALS[signal.Signals(self.signum)][1]


def stopped_by(exc: KeyboardInterrupt) -> Stopped:
    """The :class:`Stopped` behind any KeyboardInterrupt (Python's own one is Ctrl-C)."""
    return exc if isinstance(exc, Stopped) else Stopped(signal.SIGINT)


def _raise_stopped(signum: int, frame: Any) -> None:
    if _raising_may_lose_it(frame):
        _send_again_soon(signum)
        return
    raise Stopped(signum)


def _send_again_soon(signum: int) -> None:
    """Deliver ``signum`` to this process once more, :data:`RETRY_DELAY` seconds from now."""
    threading.Timer(RETRY_DELAY, os.kill, (os.getpid(), signum)).start()


def _raising_may_lose_it(frame: Any) -> bool:
    """Whether an exception raised in the interrupted code may be printed and dropped, so the stop would be lost:
    - inside a ``__del__`` (MXNet frees its arrays there), Python prints "Exception ignored";
    - inside an import, compiled modules import from C, and some print the exception and go on. OpenCV built for
      numpy 2 asks for ``numpy._core`` first; numpy's check prints the exception as an ImportError, and MXNet's
      ``try: import cv2`` then swallows it, leaving ``mxnet.image`` without OpenCV.
    The signal is sent again a moment later, outside; an import or a finalizer takes a second at most."""
    while frame is not None:
        if frame.f_code.co_name == "__del__" or frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _heeded(signum: int) -> bool:
    """Whether a signal is this process's to act on: not ignored by whoever started it (``nohup`` ignores SIGHUP,
    a shell's background job Ctrl-C), and this is the main thread, where Python runs handlers."""
    return threading.current_thread() is threading.main_thread() and signal.getsignal(signum) is not signal.SIG_IGN


def interrupt_on_stop_signals() -> None:
    """From now on SIGTERM, SIGHUP and SIGUSR1 interrupt like Ctrl-C (call first thing, in the main thread)."""
    for signum in STOP_SIGNALS:
        if _heeded(signum):
            signal.signal(signum, _raise_stopped)


class StopRequests:
    """Within the block, the first stop signal asks the training loop to checkpoint and stop after the current
    step (:attr:`signum` says which came); a second one raises :class:`StoppedTwice`."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._previous: dict[int, Any] = {}  # the handlers to put back

    @property
    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and _raising_may_lose_it(frame):
            _send_again_soon(signum)
            return
        if self.signum is not None:
            raise StoppedTwice(signum)
        self.signum = signum

    def __enter__(self) -> StopRequests:
        for signum in STOP_SIGNALS:
            if _heeded(signum):
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)


class StoppedTwice(Stopped):
    """A second stop signal while training stopped at the first: no checkpoint is written."""

    def __str__(self) -> str:
        return f"{self.name} twice; stopped at once, without a checkpoint"


@contextmanager
def stop_signals_held() -> Iterator[None]:
    """Hold stop signals back during the block (a few renames that belong together); one that came meanwhile is
    delivered as the block ends."""
    held = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)


def interruption_line(command: str, stop: Stopped, written: list[str]) -> str:
    """The one line a command stopped by ``stop`` ends with: what it leaves behind. ``written``: the outputs it
    had put in place, each whole (every output is written under a temporary name and renamed when done)."""
    verb = "interrupted" if stop.signum == signal.SIGINT else f"stopped by {stop.name}"
    if command == "train":
        return f"{verb} before training started; nothing was saved (run the same command again)"
    if not written:
        return f"{verb}; nothing was written"
    shown = ", ".join(written[-3:]) + (f" and {len(written) - 3} more" if len(written) > 3 else "")
    return f"{verb} after writing {shown}; nothing is left half-written"
