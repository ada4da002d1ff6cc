"""What do several processes on one machine cost? ``python bench/launch.py [--json FILE]``: ``mxgan launch`` with
2 workers and 1 parameter server next to one process, 20 MNIST steps each, wall time including start-up."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.launch_cost import format_rows, time_runs  # noqa: E402
from mxgan.bench.results import parse_results_args, report, results_parser, run_script  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402


def main() -> int:
    args = parse_results_args(results_parser(__doc__))
    rows = time_runs(default_data_dir())
    report(format_rows(rows), args.json, "bench/launch.py", question="What do several processes on one machine cost?",
           rows=rows)
    return 0


if __name__ == "__main__":
    run_script(main)
