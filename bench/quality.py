"""Quality of MNIST DCGANs trained as users would: ``python bench/quality.py --runs gray --epochs 5``.

Trains each run (real ``mxgan train`` processes; minutes to hours on a CPU), then prints a table of
FID-MNIST, the rarest digit's share, mean confidence and (conditional) agreement, per epoch and on
10000 final samples. ``--time-to-fid --epochs 5`` measures the headline figure instead: the training
time and epochs the default command at 64 px takes to FID-MNIST 10 and to 5, per seed, with the moving
average's and the raw weights' FID at every check. Results and targets: bench/README.md.
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.quality_runs import (  # noqa: E402
    GOALS,
    RUNS,
    dry_run,
    format_results,
    format_time_to_fid,
    summarize,
    time_to_fid,
    train_run,
    train_until,
    until_flags,
)
from mxgan.bench.results import parse_results_args, provenance, results_parser, run_script, write_results  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402


def time_to_good(args: argparse.Namespace, data_dir: Path) -> tuple[list[dict], list[str]]:
    """--time-to-fid: the default command at 64 px (with --flags on top), per seed, until FID-MNIST 5; and the
    lines printed."""
    results, printed = [], []
    for seed in args.seeds:
        run = Path(args.out) / f"time-{args.name}-seed{seed}"
        flags = ["--seed", str(seed), *args.flags]
        # what the run was said to take, beside what it took (a run continued has no forecast of its own)
        forecast = [] if run.exists() else dry_run(run, data_dir, until_flags(flags, args.every, min(GOALS),
                                                                               args.epochs[0]))
        train_until(run, data_dir, flags, args.every, min(GOALS), args.epochs[0])
        result = {"name": args.name, "seed": seed, "flags": args.flags, "dry_run": forecast, **time_to_fid(run)}
        lines = format_time_to_fid(f"{args.name}, seed {seed}", result)
        print(lines, flush=True)
        results.append(result)
        printed.append(lines)
    return results, printed


def main() -> int:
    parser = results_parser(__doc__)
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--runs", nargs="+", choices=sorted(RUNS), default=sorted(RUNS), help="which runs")
    parser.add_argument("--epochs", type=int, nargs="+", default=[1], help="epochs per run (one value, or one per run)")
    parser.add_argument("--out", default="runs/quality", help="folder for the run folders")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR or ./data)")
    parser.add_argument("--summarize-only", action="store_true", help="measure existing run folders, train nothing")
    parser.add_argument("--time-to-fid", action="store_true",
                        help="instead, time to FID-MNIST 10 and 5 of the default command (at most --epochs)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1], help="--time-to-fid: one run per seed")
    parser.add_argument("--every", type=float, default=0.25, help="--time-to-fid: epochs between quality checks")
    parser.add_argument("--name", default="default", help="--time-to-fid: the runs' name (with --flags: yours)")
    parser.add_argument("--flags", nargs=argparse.REMAINDER, default=[],
                        help="more train flags for every run, last on the line (a recipe to confirm, --dtype "
                             "bfloat16)")
    args = parse_results_args(parser)
    epochs = args.epochs * len(args.runs) if len(args.epochs) == 1 else args.epochs
    if len(epochs) != len(args.runs) or min(epochs) < 1:
        parser.error("--epochs: one positive value, or one per run")
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    if args.time_to_fid:
        results, printed = time_to_good(args, data_dir)
        if args.json:
            question = "How long does the default command take to FID-MNIST 10 and 5?"
            written = {"question": question, "runs": results, **provenance("\n".join(printed), "bench/quality.py")}
            write_results(args.json, written)
        return 0
    results = []
    for name, n in zip(args.runs, epochs):
        run = Path(args.out) / name if args.summarize_only else train_run(name, n, Path(args.out), data_dir, args.flags)
        results.append(summarize(name, run, data_dir))
    printed = format_results(results)
    print(printed)
    if args.json:
        written = {"question": "How good are MNIST DCGANs trained as users would?", "runs": results,
                   **provenance(printed, "bench/quality.py")}
        write_results(args.json, written)
    return 0


if __name__ == "__main__":
    run_script(main)
