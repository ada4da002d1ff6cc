"""The entry point of every command (``mxgan``, ``run_dcgan.py``, ``bench/*.py``): :func:`mxgan.cli.main`, with
Ctrl-C, SIGTERM, SIGHUP and SIGUSR1 interrupting like Ctrl-C from the first instant, while the CLI itself is still
being imported too."""

from __future__ import annotations

import sys

from mxgan.runtime.signals import interrupt_on_stop_signals, interruption_line, stopped_by


def run(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run the command ``argv`` (default: the command line); return its exit code."""
    interrupt_on_stop_signals()
    try:
        from mxgan.cli import main  # numpy, OpenCV, ...: a quarter of a second to import

        return main(argv, prog)  # it answers stops itself once it has read its command line
    except KeyboardInterrupt as exc:  # a stop during the imports arrives as they end (see runtime.signals)
        stop = stopped_by(exc)
        command = (sys.argv[1:] if argv is None else argv)[:1]
        print(f"{prog}: {interruption_line(command[0] if command else '', stop, [])}", file=sys.stderr)
        return stop.exit_code
