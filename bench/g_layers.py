"""Does G pay in bfloat16? ``python bench/g_layers.py --json bench/results/g-layers.json``: each stride-2 layer
of G as the example's float32 Deconvolution and as a bfloat16 sub-pixel Convolution, side by side."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.g_layers import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
