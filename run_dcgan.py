"""Train the DCGAN of MXNet's example: ``python run_dcgan.py --dataset mnist --ctx cpu``.

The same as ``mxgan train ...``; see ``python run_dcgan.py --help``.
"""

import sys

from mxgan.entry import run

if __name__ == "__main__":
    sys.exit(run(["train", *sys.argv[1:]], prog="run_dcgan.py"))
