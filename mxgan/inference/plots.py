"""Pictures of a run folder: training curves, and the fixed-noise grids as a montage and a GIF.

Uses matplotlib's Agg backend (files only, never a window); needs the ``plot`` extra.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import cv2
import numpy as np

from mxgan.constants import METRICS_FILE
from mxgan.errors import MxganError
from mxgan.runtime.fileio import write_atomic, write_bytes_atomic

GRID_NAME = re.compile(r"^samples-(\d{7})\.png$")
MAX_FRAMES = 16


def read_metrics(run: Path) -> list[dict]:
    """The records of ``metrics.jsonl``, skipping a last line cut short by a crash."""
    path = Path(run) / METRICS_FILE
    if not path.is_file():
        raise MxganError(f"{run} has no metrics.jsonl: pass a run folder that mxgan train wrote")
    records = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue  # a line cut short by a crash, or garbage: the rest of the log still plots
        if isinstance(record, dict):
            records.append(record)
    return records


def _pyplot():
    try:
        import matplotlib
    except ImportError as exc:
        raise MxganError("mxgan plot needs matplotlib: pip install '.[plot]'") from exc
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save_figure(fig, path: Path) -> Path:
    return write_atomic(path, lambda tmp: fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight"))


def plot_curves(run: Path, records: list[dict]) -> list[Path]:
    """``losses.png``, ``d_accuracy.png`` and (when the run had quality checks) ``fid.png``."""
    plt = _pyplot()
    logs = [r for r in records if "errD" in r]
    if not logs:
        raise MxganError(f"{run}/metrics.jsonl has no training logs yet")
    it = [r["iteration"] for r in logs]
    written = []
    for name, keys, ylabel in (("losses.png", ("errD", "errG"), "cross-entropy"),
                               ("d_accuracy.png", ("facc", "D_x", "D_G_z1"), "D accuracy / D(x) / D(G(z))")):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for key in keys:
            ax.plot(it, [r[key] for r in logs], label=key, linewidth=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
        written.append(_save_figure(fig, run / name))
        plt.close(fig)
    evals = [r for r in records if "eval" in r]
    if evals:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.plot([r["iteration"] for r in evals], [r["eval"]["fid"] for r in evals], "o-", label="FID-MNIST")
        ax.axhline(evals[-1]["eval"]["fid_floor"], color="gray", linestyle="--", label="floor (MNIST train vs test)")
        ax.set_yscale("log")
        ax.set_xlabel("iteration")
        ax.legend()
        ax.grid(alpha=0.3)
        written.append(_save_figure(fig, run / "fid.png"))
        plt.close(fig)
    return written


def grid_frames(run: Path) -> list[tuple[int, np.ndarray]]:
    """The fixed-noise grids of a run, ``(iteration, RGB image)``, oldest first, at most MAX_FRAMES."""
    grids = sorted((int(m.group(1)), p) for p in Path(run).iterdir() if (m := GRID_NAME.match(p.name)))
    if len(grids) > MAX_FRAMES:  # evenly spaced, always keeping the last
        keep = np.linspace(0, len(grids) - 1, MAX_FRAMES).round().astype(int)
        grids = [grids[i] for i in sorted(set(keep))]
    frames = []
    for iteration, path in grids:
        image = cv2.imread(str(path))
        if image is None:
            raise MxganError(f"{path} is not a readable picture (damaged?); delete it and run mxgan plot again")
        frames.append((iteration, cv2.cvtColor(image, cv2.COLOR_BGR2RGB)))
    return frames


def _labelled(iteration: int, image: np.ndarray) -> np.ndarray:
    band = np.zeros((18, image.shape[1], 3), np.uint8)
    cv2.putText(band, f"iteration {iteration}", (4, 13), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1)
    return np.concatenate([band, image])


def montage_and_gif(run: Path) -> list[Path]:
    """``samples-montage.png`` (the grids side by side, 4 a row) and ``samples.gif`` (one per frame)."""
    frames = [_labelled(it, img) for it, img in grid_frames(run)]
    if not frames:
        return []
    from PIL import Image  # comes with matplotlib

    h, w, _ = frames[0].shape
    columns = min(4, len(frames))
    rows = -(-len(frames) // columns)
    canvas = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = frame
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    montage = write_bytes_atomic(run / "samples-montage.png", png.tobytes())
    images = [Image.fromarray(f) for f in frames]
    gif = write_atomic(run / "samples.gif", lambda tmp: images[0].save(
        tmp, format="GIF", save_all=True, append_images=images[1:], duration=600, loop=0))
    return [montage, gif]


def plot_run(run: Path) -> list[Path]:
    """All pictures of a run folder; returns the files written."""
    run = Path(run)
    if not run.is_dir():
        raise MxganError(f"{run}: no such run folder")
    return plot_curves(run, read_metrics(run)) + montage_and_gif(run)
