"""Names and numbers every layer shares: files shipped in the package, inputs, classes, sizes."""

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CLASSIFIER_WEIGHTS = PACKAGE / "quality" / "weights" / "mnist_lenet.params"  # made by: mxgan classifier train
RUN_OPTIONS_FILE = "run.json"  # a run folder's options (TrainConfig)
STATE_FILE = "state.json"  # a run folder's checkpoint sets, the newest last; written after them
STATE_PREVIOUS = "state.previous.json"  # the state.json it replaced: read when state.json is lost or damaged
METRICS_FILE = "metrics.jsonl"  # a run folder's log: a JSON object a line
TRAIN_LOG = "train.log"  # what training would have printed, once its standard output's reader went away

CLASSES = 10  # conditional models: one-hot digits
D_INPUT = "data"
D_LABEL = "label"
G_INPUT = "rand"

IMAGE_SIZES = (16, 32, 64, 128)  # generator and discriminator sizes; others are resized to one of these
EVAL_SIZES = (16, 32, 64)  # generator sizes the MNIST classifier takes (mxgan eval, the in-training check)
FEWEST_MEASURED = 10  # samples a quality measurement needs: a covariance, and more than k = 5 nearest neighbours
NOISE_KINDS = ("normal", "uniform")  # z ~ N(0, 1) (the example's) or U(-1, 1)
WEIGHTS = ("raw", "ema")  # a run's generator weights: as trained, or their moving average
BN_MODES = ("eval", "train")  # BatchNorm when sampling: moving statistics, or the batch's own
KVSTORES = ("local", "device", "dist_sync", "dist_async")  # how devices and workers share gradients
GRAY_DATASETS = ("mnist", "fashion-mnist")  # IDX files: gray, labelled
DATASETS = (*GRAY_DATASETS, "synthetic", "folder", "rec")
DATASET_CHANNELS = {name: 1 for name in GRAY_DATASETS} | {"synthetic": 3, "folder": 3, "rec": 3}
INCEPTION_FOLDER = "inception"  # <data dir>/inception/: where `mxgan download inception` puts the FID Inception weights
INCEPTION_WEIGHTS_ENV = "MXGAN_INCEPTION_WEIGHTS"  # a FID Inception weights file, wherever it is
DTYPES = ("float32", "bfloat16", "auto", "float16")  # --dtype: what G and D compute in (see mxgan.runtime.precision)
