"""``python -m mxgan``: the ``mxgan`` command."""

import sys

from mxgan.entry import run

if __name__ == "__main__":
    sys.exit(run())
