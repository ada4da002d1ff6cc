"""The search behind the default recipe: ``python bench/recipe_search.py --size small``.

Trains one MNIST epoch per candidate (real ``mxgan train`` processes, same seed), each evaluated at
the end of the epoch on 10000 samples with the shipped classifier, raw and EMA weights side by side.
``--size small`` is 32 px, ngf = ndf = 32 (about a minute a run on 2 cores); ``--size full`` is the
default 64 px model (about 8 minutes a run). Results: bench/README.md, "Choosing the default recipe".

``--time`` searches for *time* to a good model instead: each candidate (on top of the default recipe) checks
its quality ``--every`` epochs and stops at the last of ``--goals``; the table says when each goal was
first reached, in training time and in epochs.
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.quality_runs import (  # noqa: E402
    CANDIDATES,
    TIME_CANDIDATES,
    format_search,
    format_time_search,
    format_time_to_fid,
    search_run,
    time_to_fid,
    train_until,
)
from mxgan.bench.results import parse_results_args, run_script  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402

SIZES = {"small": ["--image-size", "32", "--ngf", "32", "--ndf", "32"], "full": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--candidates", nargs="+", choices=sorted({*CANDIDATES, *TIME_CANDIDATES}), default=None,
                        help="default: every candidate of the search chosen")
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per candidate and seed")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per run (--time: at most)")
    parser.add_argument("--time", action="store_true", help="search for time to FID-MNIST --goals")
    parser.add_argument("--goals", type=float, nargs="+", default=[20.0, 10.0], help="--time: FID-MNIST goals")
    parser.add_argument("--every", type=float, default=0.1, help="--time: epochs between quality checks")
    parser.add_argument("--out", default="runs/search", help="folder for the run folders")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR or ./data)")
    parser.add_argument("--json", default=None, help="also append each result to this JSONL file")
    parser.add_argument("--summarize", metavar="JSONL", default=None,
                        help="--time: print the table of the results in this file (from --json); train nothing")
    args = parse_results_args(parser)
    if args.summarize:
        print(format_time_search([json.loads(line) for line in Path(args.summarize).read_text().splitlines()]))
        return 0
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    chosen = TIME_CANDIDATES if args.time else CANDIDATES
    results = []
    for name in args.candidates or list(chosen):
        if name not in chosen:
            parser.error(f"--candidates {name} is not a candidate of this search")
        for seed in args.seeds:
            flags = [*SIZES[args.size], "--seed", str(seed)]
            if args.time:
                run = Path(args.out) / f"time-{args.size}" / f"{name}-seed{seed}"
                train_until(run, data_dir, [*flags, *TIME_CANDIDATES[name][1]], args.every, min(args.goals),
                            args.epochs)
                result = {"name": name, "seed": seed, "predicted": TIME_CANDIDATES[name][0],
                          **time_to_fid(run, tuple(args.goals))}
                print(format_time_to_fid(f"{name}, seed {seed}: {result['predicted']}", result), flush=True)
            else:
                run = Path(args.out) / args.size / f"{name}-seed{seed}"
                result = search_run(name, run, data_dir, flags, args.epochs)
                print(format_search([result], header=not results), flush=True)
            results.append(result)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(result) + "\n")
    print(format_time_search(results) if args.time else format_search(results))
    return 0


if __name__ == "__main__":
    run_script(main)
