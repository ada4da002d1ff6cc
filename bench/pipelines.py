"""Images/s of the picture-folder and RecordIO pipelines next to the training step they feed.

``python bench/pipelines.py [--pictures N] [--json FILE]``: cuts N small JPEG pictures from scikit-image's
photographs (the test extra), packs them, and times both pipelines and the step side by side.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

if __name__ == "__main__":
    prepare_mxnet()
    from mxgan.bench.pipelines import format_rows, run
    from mxgan.bench.results import parse_results_args, report, results_parser

    parser = results_parser(__doc__)
    parser.add_argument("--pictures", type=int, default=2000, help="pictures in the generated folder")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks per pipeline (median reported)")
    args = parse_results_args(parser)
    rows = run(count=args.pictures, repeats=args.repeats)
    report(format_rows(rows), args.json, "bench/pipelines.py",
           question="Do the picture pipelines keep up with the training step?",
           rows=[{"what": name, "images_per_sec": rate} for name, rate in rows])
