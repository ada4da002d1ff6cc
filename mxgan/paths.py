"""Files shipped inside the package."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CLASSIFIER_WEIGHTS = PACKAGE / "weights" / "mnist_lenet.params"  # made by: mxgan classifier train
RUN_OPTIONS_FILE = "run.json"  # a run folder's options (TrainConfig)
STATE_FILE = "state.json"  # a run folder's newest checkpoint set, written last
