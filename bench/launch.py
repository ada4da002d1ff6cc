"""What do several processes on one machine cost? ``python bench/launch.py [--json FILE]``: ``mxgan launch`` with
2 workers and 1 parameter server next to one process, 20 MNIST steps each, wall time including start-up."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.launch_cost import format_rows, time_runs  # noqa: E402
from mxgan.bench.throughput import provenance, write_results  # noqa: E402
from mxgan.commands.options import refuse_unwritable  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    if args.json:
        refuse_unwritable("--json", args.json, parser)
    rows = time_runs(default_data_dir())
    printed = format_rows(rows)
    print(printed)
    if args.json:
        write_results(args.json, {"question": "What do several processes on one machine cost?", "rows": rows,
                                  **provenance(printed, "bench/launch.py")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
