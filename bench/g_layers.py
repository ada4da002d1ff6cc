"""Does G pay in bfloat16? ``python bench/g_layers.py --json bench/results/g-layers.json``: each stride-2 layer
of G as the example's float32 Deconvolution and as a bfloat16 sub-pixel Convolution, side by side."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.g_layers import format_rows, time_layers  # noqa: E402
from mxgan.bench.throughput import provenance, write_results  # noqa: E402
from mxgan.commands.options import refuse_unwritable  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per form (the median is kept)")
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    if args.json:
        refuse_unwritable("--json", args.json, parser)
    rows = time_layers(args.batch_size, args.repeats)
    printed = format_rows(rows, args.batch_size)
    print(printed)
    if args.json:
        result = {"question": "Does G pay in bfloat16?", "rows": rows, **provenance(printed, "bench/g_layers.py")}
        write_results(args.json, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
