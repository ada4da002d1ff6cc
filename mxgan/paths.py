"""Files shipped inside the package."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CLASSIFIER_WEIGHTS = PACKAGE / "weights" / "mnist_lenet.params"  # made by: mxgan classifier train
