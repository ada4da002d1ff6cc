"""Quality of MNIST DCGANs trained as users would: ``python bench/quality.py --runs gray --epochs 5``.

Trains each run (real ``mxgan train`` processes; minutes to hours on a CPU), then prints a table of
FID-MNIST, the rarest digit's share, mean confidence and (conditional) agreement, per epoch and on
10000 final samples. Results and targets: bench/README.md.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.quality_runs import RUNS, format_results, summarize, train_run  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--runs", nargs="+", choices=sorted(RUNS), default=sorted(RUNS), help="which runs")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1], help="epochs per run (one value, or one per run)")
    parser.add_argument("--out", default="runs/quality", help="folder for the run folders")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR or ./data)")
    parser.add_argument("--json", default=None, help="also write the results here")
    parser.add_argument("--summarize-only", action="store_true", help="measure existing run folders, train nothing")
    args = parser.parse_args()
    epochs = args.epochs * len(args.runs) if len(args.epochs) == 1 else args.epochs
    if len(epochs) != len(args.runs) or min(epochs) < 1:
        parser.error("--epochs: one positive value, or one per run")
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    results = []
    for name, n in zip(args.runs, epochs):
        run = Path(args.out) / name if args.summarize_only else train_run(name, n, Path(args.out), data_dir, [])
        results.append(summarize(name, run, data_dir))
    print(format_results(results))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
