"""A LeNet-style MNIST classifier in MXNet: what ``mxgan eval`` measures MNIST generators with.

Its weights ship inside the package (``mxgan/quality/weights/mnist_lenet.params``, made
by ``mxgan classifier train``, reproducible from ``--seed``), so evaluation needs
no download. Inputs are (N, 1, 28, 28) in [0, 1]; the 128-d penultimate layer
(``features``) is the embedding of FID-MNIST.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.module_format import load_module_params, save_module_params
from mxgan.constants import CLASSIFIER_WEIGHTS
from mxgan.data.download import dataset_folder
from mxgan.data.idx import IDX_DATASETS, load_idx_split
from mxgan.errors import MxganError
from mxgan.model.precision import in_bfloat16
from mxgan.runtime.streams import stream

FEATURES = 128
INPUT = "data"
LABEL = "softmax_label"


def lenet_symbols() -> tuple[mx.sym.Symbol, mx.sym.Symbol]:
    """``(training symbol, inference symbol)``; the latter outputs (probabilities, features)."""
    x = mx.sym.Variable(INPUT)                                                            # (N, 1, 28, 28)
    x = mx.sym.Convolution(x, name="conv1", kernel=(5, 5), num_filter=32)                 # (N, 32, 24, 24)
    x = mx.sym.Pooling(mx.sym.Activation(x, act_type="relu"), kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = mx.sym.Convolution(x, name="conv2", kernel=(5, 5), num_filter=64)                 # (N, 64, 8, 8)
    x = mx.sym.Pooling(mx.sym.Activation(x, act_type="relu"), kernel=(2, 2), stride=(2, 2), pool_type="max")
    x = mx.sym.FullyConnected(mx.sym.Flatten(x), name="fc1", num_hidden=FEATURES)         # (N, 128)
    features = mx.sym.Activation(x, act_type="relu", name="features")
    logits = mx.sym.FullyConnected(features, name="fc2", num_hidden=10)                   # (N, 10)
    train = mx.sym.SoftmaxOutput(logits, name="softmax")
    return train, mx.sym.Group([mx.sym.softmax(logits), features])


def mnist_as_input(images: np.ndarray) -> np.ndarray:
    """uint8 (N, 28, 28) MNIST images as the classifier's float32 (N, 1, 28, 28) input in [0, 1]."""
    return (images.astype(np.float32) / 255.0)[:, None]


def load_mnist(data_dir: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """MNIST images (N, 28, 28) uint8 and labels of ``split``, downloading them if missing."""
    spec = IDX_DATASETS["mnist"]
    folder = dataset_folder(spec, data_dir)
    return load_idx_split(folder, spec, split)


@dataclass
class Classifier:
    """The classifier bound for inference on batches of ``batch_size``."""

    module: mx.mod.Module
    batch_size: int

    def predict(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (N, 10) and features (N, 128) of (N, 1, 28, 28) inputs in [0, 1]."""
        probs, feats = [], []
        for start in range(0, len(inputs), self.batch_size):
            part = inputs[start:start + self.batch_size]
            padded = np.concatenate([part, np.zeros((self.batch_size - len(part), *part.shape[1:]), np.float32)])
            self.module.forward(mx.io.DataBatch([mx.nd.array(padded)]), is_train=False)
            p, f = (o.asnumpy()[:len(part)] for o in self.module.get_outputs())
            probs.append(p)
            feats.append(f)
        return np.concatenate(probs), np.concatenate(feats)


def load_classifier(path: Path = CLASSIFIER_WEIGHTS, batch_size: int = 500, contexts: list | None = None,
                    dtype: str = "float32") -> Classifier:
    """The shipped (or given) classifier weights, bound for inference (``dtype="bfloat16"``: its convolutions and
    dense layers in bfloat16)."""
    if not Path(path).is_file():
        raise MxganError(f"{path}: no classifier weights; make them with: mxgan classifier train")
    _, symbol = lenet_symbols()
    symbol = in_bfloat16(symbol) if dtype == "bfloat16" else symbol
    module = mx.mod.Module(symbol, data_names=(INPUT,), label_names=None, context=contexts or [mx.cpu()])
    module.bind(data_shapes=[(INPUT, (batch_size, 1, 28, 28))], for_training=False)
    module.set_params(*load_module_params(path))
    return Classifier(module, batch_size)


def accuracy(classifier: Classifier, data_dir: Path) -> float:
    """Top-1 accuracy on the MNIST test set."""
    images, labels = load_mnist(data_dir, "test")
    probs, _ = classifier.predict(mnist_as_input(images))
    return float((probs.argmax(axis=1) == labels).mean())


def train_classifier(data_dir: Path, out: Path, epochs: int = 4, seed: int = 0, batch_size: int = 128,
                     train_size: int = 0, progress: bool = True) -> float:
    """Train the classifier on MNIST's training set (its first ``train_size`` images, 0: all); save it.

    Returns the test accuracy. Repeatable on CPU: weights from ``mx.random.seed(seed)``,
    batch order from ``seed`` and the epoch.
    """
    from tqdm import tqdm

    images, labels = load_mnist(data_dir, "train")
    if train_size:
        images, labels = images[:train_size], labels[:train_size]
    inputs = mnist_as_input(images)
    mx.random.seed(seed)
    symbol, _ = lenet_symbols()
    module = mx.mod.Module(symbol, data_names=(INPUT,), label_names=(LABEL,))
    module.bind(data_shapes=[(INPUT, (batch_size, 1, 28, 28))], label_shapes=[(LABEL, (batch_size,))])
    module.init_params(mx.init.Xavier(magnitude=2.0))
    module.init_optimizer(optimizer="adam", optimizer_params={"learning_rate": 1e-3})
    steps = len(inputs) // batch_size
    with tqdm(total=epochs * steps, unit="step", disable=not progress, desc="classifier") as bar:
        for epoch in range(epochs):
            order = stream(seed, "classifier", epoch).permutation(len(inputs))
            for b in range(steps):
                idx = order[b * batch_size:(b + 1) * batch_size]
                module.forward(mx.io.DataBatch([mx.nd.array(inputs[idx])], [mx.nd.array(labels[idx])]), is_train=True)
                module.backward()
                module.update()
                bar.update()
    out.parent.mkdir(parents=True, exist_ok=True)
    save_module_params(module, out)
    return accuracy(load_classifier(out), data_dir)
