"""The search behind the default recipe: ``python bench/recipe_search.py --size small``.

Trains one MNIST epoch per candidate (real ``mxgan train`` processes, same seed), each judged at the
end of the epoch on 10000 samples with the shipped classifier, raw and EMA weights side by side.
``--size small`` is 32 px, ngf = ndf = 32 (about a minute a run on 2 cores); ``--size full`` is the
default 64 px model (about 8 minutes a run). Results: bench/README.md, "Choosing the default recipe".
"""

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.quality_runs import CANDIDATES, format_search, search_run  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402

SIZES = {"small": ["--image-size", "32", "--ngf", "32", "--ndf", "32"], "full": []}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--candidates", nargs="+", choices=list(CANDIDATES), default=list(CANDIDATES))
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="one run per candidate and seed")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--out", default="runs/search", help="folder for the run folders")
    parser.add_argument("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR or ./data)")
    parser.add_argument("--json", default=None, help="also append each result to this JSONL file")
    args = parser.parse_args()
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    results = []
    for name in args.candidates:
        for seed in args.seeds:
            run = Path(args.out) / args.size / f"{name}-seed{seed}"
            result = search_run(name, run, data_dir, [*SIZES[args.size], "--seed", str(seed)], args.epochs)
            results.append(result)
            print(format_search([result], header=not results[:-1]), flush=True)
            if args.json:
                with open(args.json, "a") as f:
                    f.write(json.dumps(result) + "\n")
    print(format_search(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
