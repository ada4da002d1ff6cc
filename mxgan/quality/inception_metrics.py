"""FID, KID, precision, recall, density and coverage in the FID Inception network's 2048-d feature space.

- FID: the Frechet distance of Gaussians fitted to the two sets' features (pytorch-fid's formula, computed by
  :func:`mxgan.quality.metrics.frechet_distance`, FID-MNIST's).
- KID (Binkowski et al. 2018): the unbiased MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3, averaged over
  random subsets of min(1000, n) images of each set, as clean-fid, torch-fidelity and StyleGAN2-ADA compute it:
  unlike FID it has no bias from the set size, so small sets compare.
- Precision, recall, density, coverage: :func:`mxgan.quality.metrics.neighbourhood_metrics` on these features.

Reference statistics are an ``.npz`` with ``mu`` and ``sigma`` (what pytorch-fid's ``--save-stats`` writes and
reads, and clean-fid's files hold), and, from mxgan, the image count, a fingerprint of the images, the weights'
sha256 and the resize mode, and optionally the features themselves (KID and the neighbourhood metrics need them).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mxgan.errors import MxganError
from mxgan.quality.inception import RESIZE_MODE, InceptionFeatures, check_images
from mxgan.quality.metrics import NEIGHBOURS, frechet_distance, gaussian, neighbourhood_metrics
from mxgan.runtime.fileio import write_atomic

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000


@dataclass
class InceptionStatistics:
    """A set of images in Inception space: the Gaussian (``mu``, ``sigma``), and what made it."""

    mu: np.ndarray
    sigma: np.ndarray
    count: int = 0  # 0: unknown (a file from another tool)
    fingerprint: str = ""  # sha256 of the images' shape, type and bytes
    weights_sha256: str = ""
    resize: str = ""
    features: np.ndarray | None = field(default=None, repr=False)  # (N, 2048), for KID and the neighbourhood metrics


def image_fingerprint(images: np.ndarray) -> str:
    """sha256 of an image array's shape, type and values: which data a statistics file describes."""
    digest = hashlib.sha256(f"{images.shape}{images.dtype.str}".encode())
    for image in images:  # one image at a time: no copy of the whole set
        digest.update(np.ascontiguousarray(image).tobytes())
    return digest.hexdigest()


def statistics_of(features: np.ndarray, fingerprint: str = "", weights_sha256: str = "",
                  resize: str = "") -> InceptionStatistics:
    """The statistics of (N, 2048) features (N >= 2), keeping the features."""
    if features.ndim != 2 or len(features) < 2:
        raise MxganError(f"statistics need two or more feature vectors, got an array of shape {features.shape}")
    mu, sigma = gaussian(features)
    return InceptionStatistics(mu, sigma, len(features), fingerprint, weights_sha256, resize,
                               features.astype(np.float32))


def reference_statistics(network: InceptionFeatures, images: np.ndarray, value_range: tuple[float, float] = (0, 255),
                         progress: bool = True) -> InceptionStatistics:
    """The Inception statistics of real images ((N, C, H, W) or (N, H, W), values in ``value_range``)."""
    images = check_images(images)
    features = network.features(images, value_range, progress)
    return statistics_of(features, image_fingerprint(images), network.weights.sha256, RESIZE_MODE)


def save_statistics(path: str | Path, stats: InceptionStatistics, keep_features: bool = False) -> Path:
    """Write ``stats`` to an ``.npz`` that pytorch-fid reads too (``mu``, ``sigma``), atomically."""
    path = Path(path)
    if path.suffix != ".npz":
        raise MxganError(f"{path}: statistics files end in .npz (pytorch-fid tells them from image folders so)")
    arrays = {"mu": stats.mu, "sigma": stats.sigma, "count": np.array(stats.count, np.int64),
              **{key: np.array(getattr(stats, key)) for key in ("fingerprint", "weights_sha256", "resize")}}
    if keep_features and stats.features is not None:
        arrays["features"] = stats.features

    def write(tmp: str) -> None:
        with open(tmp, "wb") as f:  # a file object: np.savez would add .npz to the temporary's name
            np.savez(f, **arrays)

    return write_atomic(path, write)


def load_statistics(path: str | Path) -> InceptionStatistics:
    """Statistics from an ``.npz`` of mxgan's, pytorch-fid's or clean-fid's (``mu`` and ``sigma``)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            mu, sigma = np.asarray(f["mu"], np.float64), np.asarray(f["sigma"], np.float64)
            text = {key: str(f[key]) if key in f else "" for key in ("fingerprint", "weights_sha256", "resize")}
            count = int(f["count"]) if "count" in f else 0
            features = np.asarray(f["features"], np.float32) if "features" in f else None
    except (OSError, ValueError, KeyError, EOFError) as exc:
        raise MxganError(f"{path}: not a statistics file with mu and sigma ({exc})") from exc
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)):
        raise MxganError(f"{path}: mu {mu.shape} and sigma {sigma.shape} do not make a Gaussian")
    return InceptionStatistics(mu, sigma, count, features=features, **text)


def fid(a: InceptionStatistics, b: InceptionStatistics) -> float:
    """The Frechet Inception distance of two sets' statistics."""
    if a.mu.shape != b.mu.shape:
        raise MxganError(f"FID compares features of one size; got {len(a.mu)} and {len(b.mu)} dimensions")
    return frechet_distance((a.mu, a.sigma), (b.mu, b.sigma))


def kid(real: np.ndarray, fake: np.ndarray, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
        seed: int = 0) -> tuple[float, float]:
    """KID (mean, standard deviation over ``subsets``) of (N, D) features, on subsets of min(subset_size, N)."""
    m = min(len(real), len(fake), subset_size)
    if m < 2 or real.shape[1] != fake.shape[1]:
        raise MxganError(f"KID needs two or more feature vectors of one size in each set; got {real.shape} and "
                         f"{fake.shape}")
    rng, d = np.random.default_rng(seed), real.shape[1]
    values = np.empty(subsets)
    for i in range(subsets):
        x = fake[rng.choice(len(fake), m, replace=False)].astype(np.float64)
        y = real[rng.choice(len(real), m, replace=False)].astype(np.float64)
        within = (x @ x.T / d + 1) ** 3 + (y @ y.T / d + 1) ** 3
        between = (x @ y.T / d + 1) ** 3
        values[i] = (within.sum() - np.trace(within)) / (m * (m - 1)) - 2 * between.sum() / (m * m)
    return float(values.mean()), float(values.std())


@dataclass
class InceptionReport:
    """FID, KID and the neighbourhood metrics of generated images against a reference."""

    num: int
    fid: float
    kid: float = math.nan  # NaN: the reference kept no features
    kid_std: float = math.nan
    precision: float = math.nan
    recall: float = math.nan
    density: float = math.nan
    coverage: float = math.nan

    def to_json(self) -> dict:
        return asdict(self)

    def summary(self) -> str:
        """The few figures a progress line shows beside the FID."""
        return f"KID {1000 * self.kid:.2f} x 1e-3, precision {self.precision:.3f}, coverage {self.coverage:.3f}"

    def format(self) -> str:
        return (f"FID {self.fid:.2f}  KID {1000 * self.kid:.2f} +- {1000 * self.kid_std:.2f} (x 1e-3); "
                f"{self.num} samples\nprecision {self.precision:.3f}  recall {self.recall:.3f}  density "
                f"{self.density:.3f}  coverage {self.coverage:.3f}  (k = {NEIGHBOURS} nearest neighbours in "
                "Inception features)")


def measure_features(features: np.ndarray, reference: InceptionStatistics) -> InceptionReport:
    """Generated images' (N, 2048) features against a reference (KID and the rest only where it kept features;
    as many reference features as samples for the neighbourhood metrics, as FID-MNIST's
    :func:`mxgan.quality.metrics.measure` does)."""
    report = InceptionReport(num=len(features), fid=fid(statistics_of(features), reference))
    if reference.features is not None:
        report.kid, report.kid_std = kid(reference.features, features)
        reals = reference.features[:len(features)]
        for name, value in neighbourhood_metrics(reals, features).items():
            setattr(report, name, value)
    return report
