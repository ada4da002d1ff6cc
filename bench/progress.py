"""How steady the progress bar of the default command is: ``python bench/progress.py``.

Runs ``mxgan train --dataset mnist --max-steps 80`` (the default command, cut short) in its own process,
reads its bar as a user would, and prints the range of the rate and of the end (time elapsed + time
left) it showed at steps 20-80. ``--checkout DIR`` runs the mxgan of another copy (an older commit, to
compare). Results: bench/README.md.
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.bench.bar import steadiness, watch_training  # noqa: E402
from mxgan.bench.results import parse_results_args, report, results_parser, run_script  # noqa: E402
from mxgan.runtime.humanize import duration  # noqa: E402


def main() -> int:
    parser = results_parser(__doc__)
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    parser.add_argument("--steps", type=int, default=80, help="steps to run; the window is steps 20 to this")
    parser.add_argument("--checkout", type=Path, default=None, help="another mxgan checkout to measure instead")
    parser.add_argument("flags", nargs="*", help="more train flags, after --")
    args = parse_results_args(parser)
    with tempfile.TemporaryDirectory() as out:
        flags = ["--dataset", "mnist", "--max-steps", str(args.steps), "--out", f"{out}/run", *args.flags]
        shown = watch_training(flags, args.checkout)
    s = steadiness(shown, 20, args.steps)
    printed = "\n".join([
        f"mxgan train {' '.join(flags[:4] + args.flags)} ({args.checkout or 'this checkout'}), steps 20-{args.steps} "
        f"({s['steps']} updates):",
        f"rate shown: {s['rate_min']:.2f}-{s['rate_max']:.2f} s/step, max/min {s['rate_spread']:.2f}",
        f"end shown (time elapsed + time left): {duration(s['end_min'])} - {duration(s['end_max'])} after the "
        f"start, max/min {s['end_spread']:.2f}"])
    report(printed, args.json, "bench/progress.py", question="How steady is the progress bar?", steadiness=s)
    return 0


if __name__ == "__main__":
    run_script(main)
