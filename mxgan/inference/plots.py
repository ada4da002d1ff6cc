"""Pictures of a run folder: training curves, and the fixed-noise grids as a montage and a GIF.

Uses matplotlib's Agg backend (files only, never a window); needs the ``plot`` extra.
"""

from __future__ import annotations

import io
import logging
import math
import re
from pathlib import Path

import cv2
import numpy as np

from mxgan.constants import METRICS_FILE
from mxgan.errors import MxganError
from mxgan.jsontext import parse_json
from mxgan.runtime.fileio import StagedOutputs

log = logging.getLogger(__name__)

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
            record = parse_json(line)
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


def _number(value: object) -> float:
    """A logged value as a float; NaN (a gap in the curve) for one that is missing, not a number, or infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return math.nan
    return float(value)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return buffer.getvalue()


def plot_curves(run: Path, records: list[dict]) -> dict[str, bytes]:
    """``losses.png``, ``d_accuracy.png`` and (when the run had quality checks) ``fid.png``, as PNG bytes by
    name; a value that is not a finite number is a gap in its curve, a line without an iteration is left out."""
    plt = _pyplot()
    logs = [r for r in records if "errD" in r and not math.isnan(_number(r.get("iteration")))]
    if not logs:
        raise MxganError(f"{run}/metrics.jsonl has no training logs yet")
    it = [_number(r["iteration"]) for r in logs]
    pictures = {}
    for name, keys, ylabel in (("losses.png", ("errD", "errG"), "cross-entropy"),
                               ("d_accuracy.png", ("facc", "D_x", "D_G_z1"), "D accuracy / D(x) / D(G(z))")):
        fig, ax = plt.subplots(figsize=(7, 3.5))
        for key in keys:
            ax.plot(it, [_number(r.get(key)) for r in logs], label=key, linewidth=1)
        ax.set_xlabel("iteration")
        ax.set_ylabel(ylabel)
        ax.legend()
        ax.grid(alpha=0.3)
        pictures[name] = _png(fig)
        plt.close(fig)
    evals = [r for r in records if isinstance(r.get("eval"), dict) and not math.isnan(_number(r.get("iteration")))]
    if evals:
        pictures["fid.png"] = _fid_curve(plt, evals)
    return pictures


def _fid_curve(plt, evals: list[dict]):
    """The quality checks' FID (of the EMA where the run kept one, as ``state.json``'s best is), on a log scale;
    FID-MNIST's floor (MNIST's training set against its test set) where the metric has one."""
    metric = str(evals[-1].get("metric", "FID-MNIST"))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key, label in (("eval", "raw G"), ("eval_ema", "EMA")):
        shown = [r for r in evals if isinstance(r.get(key), dict)]
        if shown:
            ax.plot([_number(r["iteration"]) for r in shown], [_number(r[key].get("fid")) for r in shown], "o-",
                    label=f"{metric}, {label}")
    floor = _number(evals[-1]["eval"].get("fid_floor"))
    if not math.isnan(floor):
        ax.axhline(floor, color="gray", linestyle="--", label="floor (MNIST train vs test)")
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.legend()
    ax.grid(alpha=0.3)
    picture = _png(fig)
    plt.close(fig)
    return picture


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


def montage_and_gif(run: Path) -> dict[str, bytes]:
    """``samples-montage.png`` (the grids side by side, 4 a row) and ``samples.gif`` (one per frame), as bytes
    by name; none for a run without grids."""
    frames = [_labelled(it, img) for it, img in grid_frames(run)]
    if not frames:
        return {}
    from PIL import Image  # comes with matplotlib

    h, w, _ = frames[0].shape
    columns = min(4, len(frames))
    rows = -(-len(frames) // columns)
    canvas = np.zeros((rows * h, columns * w, 3), np.uint8)
    for i, frame in enumerate(frames):
        r, c = divmod(i, columns)
        canvas[r * h:(r + 1) * h, c * w:(c + 1) * w] = cv2.resize(frame, (w, h)) if frame.shape != (h, w, 3) else frame
    ok, png = cv2.imencode(".png", cv2.cvtColor(canvas, cv2.COLOR_RGB2BGR))
    images = [Image.fromarray(f) for f in frames]
    gif = io.BytesIO()
    images[0].save(gif, format="GIF", save_all=True, append_images=images[1:], duration=600, loop=0)
    return {"samples-montage.png": png.tobytes(), "samples.gif": gif.getvalue()}


def plot_run(run: Path) -> list[Path]:
    """All pictures of a run folder, every one made before any is written, then written all together (a
    damaged input leaves the older pictures as they were); returns the files written. A run without sample
    grids gets its curves, and a line saying why there is no montage."""
    run = Path(run)
    if not run.is_dir():
        raise MxganError(f"{run}: no such run folder")
    pictures = plot_curves(run, read_metrics(run))
    montage = montage_and_gif(run)
    if not montage:
        log.info(f"{run} holds no sample grids (samples-NNNNNNN.png) yet: no montage or GIF")
    with StagedOutputs() as outputs:
        for name, content in {**pictures, **montage}.items():
            outputs.content(run / name, content)
        return outputs.commit()
