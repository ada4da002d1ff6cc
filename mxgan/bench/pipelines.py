"""Images/s of the folder and RecordIO pipelines next to the training step (``python bench/pipelines.py``)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import cv2
import mxnet as mx
import numpy as np

from mxgan.bench.contenders import mxgan_contenders
from mxgan.bench.timing import interleaved
from mxgan.config import BenchConfig
from mxgan.data.batches import prefetch
from mxgan.data.folder import FolderBatches, scan_folder
from mxgan.data.records import RecordBatches, pack_folder

PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "retina")


def photo_folder(root: Path, count: int, side: int = 96, seed: int = 0) -> Path:
    """``count`` JPEG pictures of ``side`` px cut at random from scikit-image's photographs (a folder
    like the anime-faces set of the DCGAN tutorials: small colour JPEGs)."""
    from skimage import data

    photos = [getattr(data, name)()[..., :3] for name in PHOTOS]
    rng = np.random.default_rng(seed)
    for i in range(count):
        photo = photos[i % len(photos)]
        crop = int(rng.integers(side, min(photo.shape[:2]) + 1))
        top, left = (int(rng.integers(0, s - crop + 1)) for s in photo.shape[:2])
        picture = cv2.resize(photo[top:top + crop, left:left + crop], (side, side), interpolation=cv2.INTER_AREA)
        folder = root / f"{i // 1000:02d}"
        folder.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(folder / f"{i:05d}.jpg"), cv2.cvtColor(picture, cv2.COLOR_RGB2BGR))
    return root


def run(count: int = 2000, batch: int = 64, batches: int = 20, repeats: int = 5) -> list[tuple[str, float]]:
    """(what, images/s) for the training step at 64x64x3 and the two pipelines feeding it, interleaved."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = photo_folder(Path(tmp) / "pictures", count)
        rec = Path(tmp) / "pictures.rec"
        pack_folder(folder, rec, 72, 3, encoding="jpg", progress=False)
        sources = {
            "folder of 96 px JPEGs -> 64 px": FolderBatches(scan_folder(folder), 64, batch, 3, seed=0),
            "rec of 72 px JPEGs, random crop + mirror -> 64 px": RecordBatches(rec, 64, batch, 3, seed=0),
        }

        def feed(source):
            def run_once() -> None:
                for i, real in enumerate(prefetch(source.epoch(0))):
                    mx.nd.array(real)  # as the loop hands a batch to MXNet
                    if i + 1 == batches:
                        break
            return run_once

        train, _ = mxgan_contenders(BenchConfig(batch_sizes=[batch]), batch)
        contenders = {"training step (mxgan, 64x64x3)": train["train"],
                      **{name: feed(source) for name, source in sources.items()}}
        seconds = interleaved(contenders, {k: mx.nd.waitall for k in contenders}, repeats)
    steps = BenchConfig().steps
    return [(name, (steps if name.startswith("training") else batches) * batch / s) for name, s in seconds.items()]


def format_rows(rows: list[tuple[str, float]]) -> str:
    step = rows[0][1]
    lines = ["what | images/s | x training step"]
    lines += [f"{name} | {rate:.1f} | {rate / step:.2f}" for name, rate in rows]
    return "\n".join(lines)
