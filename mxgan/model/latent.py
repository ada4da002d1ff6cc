"""Latent vectors: every z a run, a grid or a sample draws (NumPy only; no MXNet)."""

from __future__ import annotations

import numpy as np

from mxgan.runtime.streams import stream


def latent(rng: np.random.Generator, num: int, nz: int, kind: str = "normal") -> np.ndarray:
    """``num`` latent vectors: z ~ N(0, 1) (the example's), or U(-1, 1) (``--noise uniform``)."""
    if kind == "uniform":
        return rng.uniform(-1.0, 1.0, (num, nz, 1, 1)).astype(np.float32)
    return rng.standard_normal((num, nz, 1, 1), dtype=np.float32)


def noise(seed: int, num: int, nz: int, kind: str = "normal") -> np.ndarray:
    """``num`` latent vectors from ``seed``."""
    return latent(np.random.default_rng(seed), num, nz, kind)


def noise_batch(
    seed: int, iteration: int, batch_size: int, nz: int, kind: str = "normal", index: int = 0, rank: int = 0
) -> np.ndarray:
    """z for ``iteration`` (its ``index``-th batch, on worker ``rank``), a function of these alone (resumable)."""
    return latent(stream(seed, "noise", iteration, index, rank), batch_size, nz, kind)


def fixed_noise(seed: int, batch_size: int, nz: int, kind: str = "normal") -> np.ndarray:
    """The fixed z of the sample grids, distinct from every training z."""
    return latent(stream(seed, "grid"), batch_size, nz, kind)


def slerp(a: np.ndarray, b: np.ndarray, t: float) -> np.ndarray:
    """Spherical interpolation between latent vectors (stays on the shell where N(0, I) lives)."""
    a_flat, b_flat = a.ravel(), b.ravel()
    cos = np.dot(a_flat, b_flat) / (np.linalg.norm(a_flat) * np.linalg.norm(b_flat))
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    if omega < 1e-6:
        return (1 - t) * a + t * b
    return (np.sin((1 - t) * omega) * a + np.sin(t * omega) * b) / np.sin(omega)


def interpolation_noise(seed: int, rows: int, columns: int, nz: int, kind: str = "normal") -> np.ndarray:
    """``rows`` walks of ``columns`` steps, each between two random latent points."""
    ends = noise(seed, 2 * rows, nz, kind)
    steps = np.linspace(0.0, 1.0, columns)
    return np.stack([slerp(ends[2 * r], ends[2 * r + 1], t) for r in range(rows) for t in steps])
