"""Ideas for a faster training step, each measured side by side with the step without it:
``python bench/step_ideas.py``. Results: bench/README.md, "Making the step faster"."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.ideas import measure_ideas  # noqa: E402
from mxgan.bench.results import (  # noqa: E402
    parse_results_args,
    provenance,
    results_parser,
    run_script,
    write_results,
)
from mxgan.config import BenchConfig  # noqa: E402


def main() -> int:
    args = parse_results_args(results_parser(__doc__))
    printed = measure_ideas(BenchConfig(channels=1, g_steps=2, steps=3, repeats=5), batch=64)
    if args.json:
        write_results(args.json, {"question": "Which ideas make the step faster?",
                                  **provenance(printed, "bench/step_ideas.py")})
    return 0


if __name__ == "__main__":
    run_script(main)
