"""What a generator learned, measured by the MNIST classifier: FID-MNIST, digit histogram, confidence.

- FID-MNIST: the Frechet distance between Gaussians fitted to the classifier's
  128-d penultimate features of generated images and of the MNIST test set.
  Its floor is the same distance between MNIST's own training and test images.
- The histogram of predicted digits, its KL divergence to uniform, and the
  digits below 2% of samples: mode collapse shows up there first.
- The mean top-1 confidence: how digit-like the samples are.
- Precision and recall (Kynkaanniemi et al. 2019), density and coverage (Naeem
  et al. 2020), on the same features against the MNIST test set, with k = 5
  nearest neighbours: FID mixes "blurry but diverse" with "sharp but
  collapsed"; precision and density fall for the first, recall and coverage for
  the second.

Generated images (1 or 3 channels, 16-64 px, in [-1, 1]) are averaged to gray
and resized to 28x28 as the classifier expects. The MNIST reference takes the
same round trip (resized to the generator's size as training data is, then
back), so a generator that matches its training data scores the floor: the
resampling alone moves FID-MNIST by 15-70 at 64-16 px.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from mxgan.constants import EVAL_SIZES
from mxgan.data.batches import resize_images
from mxgan.errors import MxganError
from mxgan.quality.classifier import Classifier, load_mnist

RARE_SHARE = 0.02
NEIGHBOURS = 5  # k of the k-nearest-neighbour balls (Naeem et al.'s choice)
MANIFOLD_REALS = 10000  # test images the neighbourhood metrics compare against, at most
FLOOR_SAMPLES = 10000
MNIST_TEST_IMAGES = 10000  # the images of the MNIST test set, the reference of FID-MNIST


def check_mnist_shaped(nc: int, image_size: int) -> None:
    """Refuse generators the MNIST classifier cannot measure."""
    if nc not in (1, 3) or image_size not in EVAL_SIZES:
        raise MxganError(
            f"eval measures MNIST-like generators (1 or 3 channels, 16, 32 or 64 px) with the MNIST classifier; "
            f"this one makes {nc}-channel {image_size} px images: give its run folder as --checkpoint to measure it "
            "against its own data (Inception FID)"
        )


def to_classifier_input(images: np.ndarray) -> np.ndarray:
    """(N, C, S, S) images in [-1, 1] as (N, 1, 28, 28) gray in [0, 1]."""
    gray = (images.mean(axis=1) + 1.0) / 2.0
    interpolation = cv2.INTER_AREA if gray.shape[1] > 28 else cv2.INTER_LINEAR
    resized = np.stack([cv2.resize(g.astype(np.float32), (28, 28), interpolation=interpolation) for g in gray])
    return np.clip(resized, 0.0, 1.0)[:, None]


def gaussian(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of (N, D) features, in float64."""
    features = features.astype(np.float64)
    return features.mean(axis=0), np.cov(features, rowvar=False)


def frechet_distance(a: tuple[np.ndarray, np.ndarray], b: tuple[np.ndarray, np.ndarray]) -> float:
    """||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2)).

    Tr((S_a S_b)^(1/2)) is the sum of the square roots of the eigenvalues of
    S_a S_b, which are real and non-negative for covariance matrices (up to
    rounding, clipped here): no matrix square root, no SciPy.
    """
    (mu_a, s_a), (mu_b, s_b) = a, b
    eigenvalues = np.linalg.eigvals(s_a @ s_b)
    trace_sqrt = np.sqrt(np.clip(eigenvalues.real, 0.0, None)).sum()
    return float(np.sum((mu_a - mu_b) ** 2) + np.trace(s_a) + np.trace(s_b) - 2.0 * trace_sqrt)


@dataclass
class Reference:
    """The MNIST test set's features and their Gaussian, and the train-vs-test distance (the floor)."""

    test: tuple[np.ndarray, np.ndarray]
    floor: float
    features: np.ndarray  # (N, D) classifier features of the test images, for the neighbourhood metrics


def _squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) squared Euclidean distances, in float64."""
    a, b = a.astype(np.float64), b.astype(np.float64)
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2.0 * a @ b.T, 0.0)


def _row_chunks(rows: int, chunk: int = 1000):
    return (slice(start, start + chunk) for start in range(0, rows, chunk))


def _knn_radii(features: np.ndarray, k: int) -> np.ndarray:
    """Squared distance from each point to its k-th nearest neighbour among the others."""
    radii = np.empty(len(features))
    for rows in _row_chunks(len(features)):
        distances = _squared_distances(features[rows], features)
        radii[rows] = np.partition(distances, k, axis=1)[:, k]  # column 0 is the point itself
    return radii


def neighbourhood_metrics(real: np.ndarray, fake: np.ndarray, k: int = NEIGHBOURS) -> dict[str, float]:
    """Precision, recall, density and coverage of ``fake`` against ``real`` features (k-NN balls).

    - precision: share of fakes inside some real point's ball;
    - recall: share of reals inside some fake point's ball;
    - density: how many real balls hold a fake, on average, divided by k (about 1 when they match);
    - coverage: share of real balls that hold at least one fake.
    """
    if min(len(real), len(fake)) <= k:
        return dict.fromkeys(("precision", "recall", "density", "coverage"), float("nan"))
    real_radii, fake_radii = _knn_radii(real, k), _knn_radii(fake, k)
    balls_holding = np.zeros(len(fake))
    covered = np.zeros(len(real), bool)
    for rows in _row_chunks(len(fake)):
        inside = _squared_distances(fake[rows], real) <= real_radii[None]
        balls_holding[rows] = inside.sum(axis=1)
        covered |= inside.any(axis=0)
    recalled = np.concatenate([(_squared_distances(real[rows], fake) <= fake_radii[None]).any(axis=1)
                               for rows in _row_chunks(len(real))])
    return {"precision": float((balls_holding > 0).mean()), "recall": float(recalled.mean()),
            "density": float(balls_holding.sum() / (k * len(fake))), "coverage": float(covered.mean())}


def as_training_data(images: np.ndarray, image_size: int) -> np.ndarray:
    """uint8 (N, 28, 28) MNIST images as the trainer feeds them: resized, (N, 1, S, S) in [-1, 1]."""
    return (resize_images(images, image_size).astype(np.float32) / (255.0 / 2) - 1.0)[:, None]


def mnist_reference(classifier: Classifier, data_dir: Path, image_size: int) -> Reference:
    """The reference for generators of ``image_size`` px (MNIST through the same resizing)."""
    test_images, _ = load_mnist(data_dir, "test")
    train_images, _ = load_mnist(data_dir, "train")

    def features(images: np.ndarray) -> np.ndarray:
        return classifier.predict(to_classifier_input(as_training_data(images, image_size)))[1]

    test_features = features(test_images)
    test = gaussian(test_features)
    floor = frechet_distance(gaussian(features(train_images[:FLOOR_SAMPLES])), test)
    return Reference(test=test, floor=floor, features=test_features)


@dataclass
class QualityReport:
    """The numbers ``mxgan eval`` prints and saves."""

    num: int
    fid: float
    fid_floor: float
    histogram: list[float]   # share of samples classified as each digit 0..9
    kl_to_uniform: float
    rare_digits: list[int]   # digits below 2% of samples
    mean_confidence: float
    precision: float = 0.0  # see neighbourhood_metrics
    recall: float = 0.0
    density: float = 0.0
    coverage: float = 0.0
    agreement: float | None = None  # conditional models: share classified as the digit asked for
    digit_agreement: list[float] | None = None  # the same, for each digit 0..9 asked for

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """The few figures a progress line shows beside the FID."""
        return f"floor {self.fid_floor:.2f}, mean confidence {self.mean_confidence:.3f}, coverage {self.coverage:.3f}"

    def format(self) -> str:
        shares = " ".join(f"{100 * s:5.1f}" for s in self.histogram)
        rare = ", ".join(map(str, self.rare_digits)) or "none"
        return "\n".join([
            f"FID-MNIST {self.fid:.2f}  (floor, MNIST train vs test: {self.fid_floor:.2f}); {self.num} samples",
            "digit     " + " ".join(f"{d:5d}" for d in range(10)),
            f"share %   {shares}",
            f"KL(histogram || uniform) {self.kl_to_uniform:.4f}; digits below {RARE_SHARE:.0%}: {rare}; "
            f"mean top-1 confidence {self.mean_confidence:.3f}",
            f"precision {self.precision:.3f}  recall {self.recall:.3f}  density {self.density:.3f}  "
            f"coverage {self.coverage:.3f}  (k = {NEIGHBOURS} nearest neighbours in the classifier's features)",
        ] + ([] if self.agreement is None or self.digit_agreement is None else [
            f"classifier agrees with the requested digit: {100 * self.agreement:.1f}% (the weakest digit, "
            f"{int(np.argmin(self.digit_agreement))}: {100 * min(self.digit_agreement):.1f}%)"]))


def measure(images: np.ndarray, classifier: Classifier, reference: Reference,
            requested: np.ndarray | None = None) -> QualityReport:
    """Quality of (N, C, S, S) images in [-1, 1] against MNIST (and, given the digits a
    conditional model was asked for, how often it drew them)."""
    probs, features = classifier.predict(to_classifier_input(images))
    predicted = probs.argmax(axis=1)
    counts = np.bincount(predicted, minlength=10)
    share = counts / counts.sum()
    # as many test images as samples (Naeem et al.): the metrics depend on the two set sizes
    reals = reference.features[:min(len(images), MANIFOLD_REALS)]
    kl = float(np.sum(np.where(share > 0, share * np.log(np.maximum(share, 1e-12) * 10), 0.0)))
    return QualityReport(
        num=len(images), fid=frechet_distance(gaussian(features), reference.test), fid_floor=reference.floor,
        histogram=[round(float(s), 6) for s in share], kl_to_uniform=kl,
        rare_digits=[d for d in range(10) if share[d] < RARE_SHARE],
        mean_confidence=float(probs.max(axis=1).mean()),
        **neighbourhood_metrics(reals, features),
        agreement=None if requested is None else float((predicted == requested).mean()),
        digit_agreement=None if requested is None else [
            round(float((predicted[requested == d] == d).mean()), 6) for d in range(10)],
    )
