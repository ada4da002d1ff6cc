"""Does G pay in bfloat16? ``python bench/g_layers.py --json bench/results/g-layers.json``: each stride-2 layer
of G as the example's float32 Deconvolution and as a bfloat16 sub-pixel Convolution, side by side."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.g_layers import format_rows, time_layers  # noqa: E402
from mxgan.bench.results import parse_results_args, report, results_parser, run_script  # noqa: E402


def main() -> int:
    parser = results_parser(__doc__)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per form (the median is kept)")
    args = parse_results_args(parser)
    rows = time_layers(args.batch_size, args.repeats)
    report(format_rows(rows, args.batch_size), args.json, "bench/g_layers.py", question="Does G pay in bfloat16?",
           rows=rows)
    return 0


if __name__ == "__main__":
    run_script(main)
