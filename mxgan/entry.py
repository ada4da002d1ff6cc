"""The entry point of every command (``mxgan``, ``run_dcgan.py``, ``bench/*.py``): :func:`mxgan.cli.main`, with
a Ctrl-C while the CLI itself is still being imported answered as one line too."""

from __future__ import annotations

import sys

from mxgan.errors import STARTUP_INTERRUPTED


def run(argv: list[str] | None = None, prog: str = "mxgan") -> int:
    """Run the command ``argv`` (default: the command line); return its exit code."""
    try:
        from mxgan.cli import main  # numpy, OpenCV, ...: a quarter of a second to import
    except KeyboardInterrupt:
        print(f"{prog}: {STARTUP_INTERRUPTED}", file=sys.stderr)
        return 130
    return main(argv, prog)
