"""The training loop: data, noise, steps, logging, samples, checkpoints, divergence guard."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import mxnet as mx
import numpy as np
from tqdm import tqdm

from mxgan.checkpoint import save_checkpoint, settle_aux_states
from mxgan.contexts import parse_ctx
from mxgan.data import ImageBatches, load_images, prefetch
from mxgan.errors import DivergenceError
from mxgan.fileio import write_bytes_atomic
from mxgan.metrics import JsonlLog, step_metrics
from mxgan.model import build_modules
from mxgan.options import TrainConfig
from mxgan.step import Labels, StepOutputs, train_step
from mxgan.visual import save_grid

GRID_SAMPLES = 64


def noise_batch(seed: int, iteration: int, batch_size: int, nz: int) -> np.ndarray:
    """z ~ N(0, 1) for ``iteration``, a function of ``(seed, iteration)`` alone (resumable)."""
    rng = np.random.default_rng([seed, 1, iteration])
    return rng.standard_normal((batch_size, nz, 1, 1), dtype=np.float32)


def fixed_noise(seed: int, batch_size: int, nz: int) -> np.ndarray:
    """The fixed z of the sample grids, distinct from every training z."""
    return np.random.default_rng([seed, 2]).standard_normal((batch_size, nz, 1, 1), dtype=np.float32)


@dataclass
class TrainResult:
    """What a finished run leaves: steps done, last checkpoint, last logged metrics."""

    iterations: int
    checkpoint: Path | None
    metrics: dict = field(default_factory=dict)


class _Window:
    """D's outputs since the last log line; checked for NaN/Inf when logged."""

    def __init__(self) -> None:
        self.steps: list[tuple[int, StepOutputs]] = []
        self.start = time.perf_counter()

    def metrics(self, batch_size: int) -> dict:
        """Metrics of the window; raises :class:`DivergenceError` at the first non-finite step."""
        arrays = [(it, [o.asnumpy() for o in (s.D_x, s.D_G_z1, s.D_G_z2)]) for it, s in self.steps]
        for iteration, outputs in arrays:
            if not all(np.isfinite(o).all() for o in outputs):
                raise DivergenceError(f"D's output became NaN/Inf at iteration {iteration}")
        D_x, D_G_z1, D_G_z2 = (np.concatenate([a[i] for _, a in arrays]) for i in range(3))
        elapsed = time.perf_counter() - self.start
        return {**step_metrics(D_x, D_G_z1, D_G_z2), "images_per_sec": len(arrays) * batch_size / elapsed}


def sample_fixed(modG: mx.mod.Module, z: mx.nd.NDArray) -> np.ndarray:
    """G's images for the fixed noise, BatchNorm on moving statistics (as ``mxgan sample``)."""
    settle_aux_states()
    modG.forward(mx.io.DataBatch([z]), is_train=False)
    return modG.get_outputs()[0].asnumpy()[:GRID_SAMPLES]


def train(cfg: TrainConfig) -> TrainResult:
    """Train a DCGAN as configured; write checkpoints, samples and metrics to ``cfg.out``.

    Raises
    ------
    MxganError
        Bad devices or data.
    DivergenceError
        A loss or parameter became NaN/Inf; no non-finite checkpoint is written.
    """
    out = Path(cfg.out)
    contexts = parse_ctx(cfg.ctx)
    images = load_images(cfg.dataset, Path(cfg.data_dir), cfg.image_size, cfg.seed)
    batches = ImageBatches(images, cfg.batch_size, cfg.channels, cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(out / "run.json", json.dumps(cfg.to_json(), indent=2).encode())

    mx.random.seed(cfg.seed)
    modG, modD = build_modules(
        contexts, cfg.batch_size, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size,
        cfg.lr, cfg.beta1, cfg.wd, cfg.init_sigma,
    )
    labels = Labels.create(cfg.batch_size)
    grid_z = mx.nd.array(fixed_noise(cfg.seed, cfg.batch_size, cfg.nz))
    log = JsonlLog(out / "metrics.jsonl")
    total = cfg.epochs * batches.batches_per_epoch
    if cfg.max_steps:
        total = min(total, cfg.max_steps)

    iteration, checkpoint, metrics = 0, None, {}
    window = _Window()
    bar = tqdm(total=total, unit="step", disable=not cfg.progress, dynamic_ncols=True)
    try:
        for epoch in range(cfg.epochs):
            for b, real in enumerate(prefetch(batches.epoch(epoch))):
                z = mx.nd.array(noise_batch(cfg.seed, iteration, cfg.batch_size, cfg.nz))
                window.steps.append((iteration, train_step(modG, modD, mx.nd.array(real), z, labels)))
                iteration += 1
                bar.update()
                epoch_ends = b + 1 == batches.batches_per_epoch or iteration == total
                # the outputs are checked for NaN/Inf here, so always before a checkpoint
                if iteration % cfg.log_every == 0 or epoch_ends:
                    metrics = _log(window.metrics(cfg.batch_size), log, epoch, iteration, bar)
                    window = _Window()
                if cfg.sample_every and iteration % cfg.sample_every == 0:
                    save_grid(out / f"samples-{iteration:07d}.png", sample_fixed(modG, grid_z))
                if iteration == total:
                    break
            checkpoint = save_checkpoint(out, cfg.dataset, epoch, modG, modD)
            save_grid(out / f"samples-epoch-{epoch:04d}.png", sample_fixed(modG, grid_z))
            if iteration == total:
                break
    except DivergenceError as exc:
        raise DivergenceError(
            f"training diverged: {exc} (stopped at iteration {iteration}); last good checkpoint: "
            f"{checkpoint or 'none written yet'}; lower --lr (now {cfg.lr:g}) or check the data"
        ) from exc
    finally:
        bar.close()
    return TrainResult(iterations=iteration, checkpoint=checkpoint, metrics=metrics)


def _log(metrics: dict, log: JsonlLog, epoch: int, iteration: int, bar: tqdm) -> dict:
    """Append a metrics line and show it on the progress bar."""
    record = {"epoch": epoch, "iteration": iteration, **{k: round(v, 6) for k, v in metrics.items()}}
    log.write(record)
    bar.set_postfix(facc=f"{metrics['facc']:.2f}", errD=f"{metrics['errD']:.3f}",
                    errG=f"{metrics['errG']:.3f}", img_s=f"{metrics['images_per_sec']:.1f}")
    return record
