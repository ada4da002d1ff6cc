"""The one evaluator of generators: a generator's samples against its data, in the feature space of a network.
The feature extractor is the seam: mxgan's MNIST classifier (FID-MNIST, the digit histogram: the quick signal
for MNIST-shaped generators) or the FID Inception network (FID, KID, precision/recall/density/coverage: any
data, a folder of your own pictures too). ``mxgan eval``, the in-training quality check and the API's
``evaluate`` all call :meth:`Evaluator.evaluate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.constants import CLASSES, EVAL_SIZES
from mxgan.data.sources import BatchOptions, reference_images
from mxgan.errors import MxganError
from mxgan.inference.sampling import generate_all
from mxgan.model.latent import noise
from mxgan.quality.classifier import Classifier, load_classifier
from mxgan.quality.inception import RESIZE_MODE, InceptionFeatures
from mxgan.quality.inception_metrics import (
    InceptionReport,
    InceptionStatistics,
    load_statistics,
    measure_features,
    save_statistics,
    statistics_of,
)
from mxgan.quality.metrics import (
    FLOOR_SAMPLES,
    MNIST_TEST_IMAGES,
    QualityReport,
    Reference,
    check_mnist_shaped,
    measure,
    mnist_reference,
    to_classifier_input,
)

log = logging.getLogger(__name__)
METRICS = ("auto", "mnist", "inception")  # auto: FID-MNIST for MNIST generators, Inception FID for any other
REFERENCE_IMAGES = 10000  # training images in mxgan eval's Inception reference (all, for a smaller set)
DRAW_BATCH = 250  # samples drawn at once to be measured
TRAINING_REFERENCE_IMAGES = 5000  # the in-training check's: about 7 min once, on 2 CPU cores at 12 images/s
# in the run folder, where pytorch-fid reads it; {dtype}: "-bfloat16" for mxgan eval --dtype bfloat16's
REFERENCE_FILE = "inception-reference-{size}px-{channels}ch-{count}{dtype}.npz"


class Report(Protocol):
    """What an evaluation says: its FID (named by :attr:`Evaluator.metric`), as JSON and as lines to print."""

    num: int
    fid: float

    def to_json(self) -> dict: ...

    def summary(self) -> str: ...

    def format(self) -> str: ...


class Evaluator(Protocol):
    """Measures samples of a generator against the data it should draw."""

    metric: str  # how its FID is named: "FID-MNIST" or "FID"
    reference_count: int  # the images its reference is made of (what :meth:`prepare` measures)

    @property
    def batch_size(self) -> int:
        """The images its network measures at once."""

    def features(self, images: np.ndarray) -> np.ndarray:
        """The features a report compares, of (N, C, S, S) samples in [-1, 1] (no reference needed)."""

    def prepare(self) -> None:
        """Make the reference now (else the first report does): once, and it takes a while."""

    def report(self, images: np.ndarray, digits: np.ndarray | None) -> Report:
        """(N, C, S, S) samples in [-1, 1] (``digits``: what a conditional model was asked for)."""


def evaluate_samples(evaluator: Evaluator, generator: GeneratorCheckpoint, z: np.ndarray,
                     batch_size: int = DRAW_BATCH,
                     contexts: list | None = None) -> Report:
    """Draw ``generator``'s samples of ``z`` (a conditional model: every digit alike) and measure them."""
    digits = np.arange(len(z)) % CLASSES if generator.arch.conditional else None
    images = generate_all(generator, z, "eval", batch_size, contexts, digits)
    return evaluator.report(images, digits)


def evaluate(evaluator: Evaluator, generator: GeneratorCheckpoint, num: int, seed: int,
             batch_size: int = DRAW_BATCH,
             contexts: list | None = None) -> Report:
    """``num`` samples of ``generator`` from ``seed``'s latent vectors, measured."""
    z = noise(seed, num, generator.arch.nz, generator.arch.noise)
    return evaluate_samples(evaluator, generator, z, batch_size, contexts)


class MnistEvaluator:
    """FID-MNIST and the digit histogram, by the classifier that ships with mxgan (loaded on first use)."""

    metric = "FID-MNIST"
    reference_count = MNIST_TEST_IMAGES + FLOOR_SAMPLES  # the test set, and training images for the floor

    def __init__(self, data_dir: Path, image_size: int, channels: int, contexts: list | None = None,
                 dtype: str = "float32") -> None:
        check_mnist_shaped(channels, image_size)
        self.data_dir, self.image_size, self.contexts, self.dtype = Path(data_dir), image_size, contexts, dtype
        self._classifier: Classifier | None = None
        self._loaded: tuple[Classifier, Reference] | None = None

    @property
    def batch_size(self) -> int:
        return self.classifier().batch_size

    def classifier(self) -> Classifier:
        if self._classifier is None:
            self._classifier = load_classifier(contexts=self.contexts, dtype=self.dtype)
        return self._classifier

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.classifier().predict(to_classifier_input(images))[1]

    def prepare(self) -> None:
        if self._loaded is None:
            self._loaded = self.classifier(), mnist_reference(self.classifier(), self.data_dir, self.image_size)

    def report(self, images: np.ndarray, digits: np.ndarray | None) -> QualityReport:
        self.prepare()
        assert self._loaded is not None
        return measure(images, *self._loaded, digits)


class InceptionEvaluator:
    """FID, KID and the neighbourhood metrics in the FID Inception network's features, against the training
    data's reference statistics: computed once from the images the run trains on (as it sees them: its size
    and channels, no augmentation), and kept in ``cache`` (an ``.npz`` pytorch-fid reads) until the data, the
    size or the weights change."""

    metric = "FID"

    def __init__(self, data: BatchOptions, cache: Path | None, weights: str | None = None,
                 contexts: list | None = None, reference_images: int = REFERENCE_IMAGES, dtype: str = "float32",
                 ) -> None:
        self.network = InceptionFeatures(weights, contexts=contexts, dtype=dtype)  # no weights: one line, now
        self.data, self.cache, self.reference_count = data, cache, reference_images
        self._reference: InceptionStatistics | None = None

    @property
    def batch_size(self) -> int:
        return self.network.batch_size

    def features(self, images: np.ndarray) -> np.ndarray:
        return self.network.features(images, (-1.0, 1.0), progress=False)

    def prepare(self) -> None:
        self.reference()

    def report(self, images: np.ndarray, digits: np.ndarray | None) -> InceptionReport:
        return measure_features(self.features(images), self.reference())

    def reference(self) -> InceptionStatistics:
        """The training data's statistics: from the cache where it describes these images, else computed."""
        if self._reference is None:
            images = reference_images(self.data, self.reference_count)
            fingerprint = _fingerprint(images, self.network.weights.sha256, self.network.dtype)
            self._reference = self._cached(fingerprint) or self._computed(images, fingerprint)
        return self._reference

    def _cached(self, fingerprint: str) -> InceptionStatistics | None:
        if self.cache is None or not self.cache.is_file():
            return None
        try:
            cached = load_statistics(self.cache)
        except MxganError as exc:
            log.warning("%s: %s; computing the reference again", self.cache, exc)
            return None
        if cached.fingerprint != fingerprint or cached.features is None:
            log.info("%s describes other data (or other weights): computing the reference again", self.cache)
            return None
        return cached

    def _computed(self, images: np.ndarray, fingerprint: str) -> InceptionStatistics:
        log.info("the Inception reference: %d training images, once (kept in %s)", len(images), self.cache)
        features = self.network.features(images, (0.0, 255.0))
        stats = statistics_of(features, fingerprint, self.network.weights.sha256, RESIZE_MODE)
        if self.cache is not None:
            save_statistics(self.cache, stats, keep_features=True)
        return stats


def _fingerprint(images: np.ndarray, weights_sha256: str, dtype: str = "float32") -> str:
    """What a cached reference was made of: the images, the weights, the resizing (and bfloat16 features)."""
    from mxgan.quality.inception_metrics import image_fingerprint

    computed = ":bfloat16" if dtype == "bfloat16" else ""  # float32 references keep their fingerprint
    return f"{image_fingerprint(images)}:{weights_sha256}:{RESIZE_MODE}{computed}"


@dataclass(frozen=True)
class EvaluatorChoice:
    """Which evaluator measures a generator of some data, from the data and ``--metric``."""

    dataset: str
    image_size: int
    channels: int
    metric: str = "auto"

    @property
    def inception(self) -> bool:
        if self.metric == "auto":
            return not (self.dataset == "mnist" and self.image_size in EVAL_SIZES)
        return self.metric == "inception"


def make_evaluator(choice: EvaluatorChoice, data: Any, cache_dir: Path | None, weights: str | None = None,
                   contexts: list | None = None, reference_images: int = REFERENCE_IMAGES, dtype: str = "float32",
                   ) -> Evaluator:
    """The evaluator ``choice`` names, for generators of ``data`` (options with the data's dataset, folder, size,
    channels and seed: a run's TrainConfig); the Inception reference is kept in ``cache_dir`` (None: not kept).
    ``dtype``: the feature network's arithmetic (``mxgan eval --dtype``; training's checks stay float32)."""
    if not choice.inception:
        return MnistEvaluator(Path(data.data_dir), choice.image_size, choice.channels, contexts, dtype)
    unaugmented = replace(data, rand_crop=False, rand_mirror=False) if hasattr(data, "rand_crop") else data
    name = REFERENCE_FILE.format(size=choice.image_size, channels=choice.channels, count=reference_images,
                                 dtype="-bfloat16" if dtype == "bfloat16" else "")
    cache = cache_dir / name if cache_dir else None
    return InceptionEvaluator(unaugmented, cache, weights, contexts, reference_images, dtype)
