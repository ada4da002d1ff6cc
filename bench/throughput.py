"""Images per second of mxgan, next to PyTorch's DCGAN: ``python bench/throughput.py --compare torch``.

The same as ``mxgan bench ...``; see bench/README.md for results and method.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.entry import run  # noqa: E402

if __name__ == "__main__":
    sys.exit(run(["bench", *sys.argv[1:]], prog="bench/throughput.py"))
