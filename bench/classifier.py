"""How well does the shipped classifier read MNIST? ``python bench/classifier.py [--json FILE]``: the accuracy of
the classifier that scores ``mxgan eval``'s samples on MNIST's 10000 test images."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run from a checkout without installing

from mxgan.runtime.env import prepare_mxnet  # noqa: E402

prepare_mxnet()

from mxgan.bench.throughput import provenance, write_results  # noqa: E402
from mxgan.commands.options import refuse_unwritable  # noqa: E402
from mxgan.constants import CLASSIFIER_WEIGHTS  # noqa: E402
from mxgan.data.idx import default_data_dir  # noqa: E402
from mxgan.quality.classifier import accuracy, load_classifier  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args()
    if args.json:
        refuse_unwritable("--json", args.json, parser)
    score = accuracy(load_classifier(), default_data_dir())
    printed = f"{CLASSIFIER_WEIGHTS.name}: MNIST test accuracy {score:.2%} (10000 images)"
    print(printed)
    if args.json:
        write_results(args.json, {"question": "How well does the shipped classifier read MNIST?", "accuracy": score,
                                  **provenance(printed, "bench/classifier.py")})
    return 0


if __name__ == "__main__":
    sys.exit(main())
