"""How well does the shipped classifier read MNIST? ``python bench/classifier.py [--json FILE]``: the accuracy of
the classifier that scores ``mxgan eval``'s samples on MNIST's 10000 test images."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.results import parse_results_args, report, results_parser, run_script  # noqa: E402
from mxgan.constants import CLASSIFIER_WEIGHTS  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402
from mxgan.quality.classifier import accuracy, load_classifier  # noqa: E402


def main() -> int:
    args = parse_results_args(results_parser(__doc__))
    score = accuracy(load_classifier(), default_data_dir())
    report(f"{CLASSIFIER_WEIGHTS.name}: MNIST test accuracy {score:.2%} (10000 images)", args.json,
           "bench/classifier.py", question="How well does the shipped classifier read MNIST?", accuracy=score)
    return 0


if __name__ == "__main__":
    run_script(main)
