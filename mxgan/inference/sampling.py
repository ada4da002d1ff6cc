"""Run a generator (and a discriminator) outside training: sample, pick the best, interpolate.

BatchNorm mode is always explicit:

- ``eval`` (default): moving statistics, so an image depends on its own z only,
  whatever else is in the batch; this is what a trained model "is".
- ``train``: statistics of the batch being generated, as the example's
  training-time grids; an image then depends on the other z in its batch.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import mxnet as mx
import numpy as np

from mxgan.checkpoints.formats import DiscriminatorCheckpoint, GeneratorCheckpoint, starting_discriminator
from mxgan.checkpoints.formats import load_generator as read_generator
from mxgan.config import NICE_OVERSAMPLING, SEED, WEIGHTS_OPTION, SampleConfig, check_argument, declaration
from mxgan.constants import CLASSES, D_INPUT, D_LABEL, G_INPUT
from mxgan.errors import MxganError
from mxgan.inference.recalibrate import load_for_sampling
from mxgan.model.latent import interpolation_noise, noise
from mxgan.model.modules import one_hot
from mxgan.model.symbols import COND
from mxgan.runtime.devices import check_gpus, parse_ctx
from mxgan.runtime.fileio import StagedOutputs


def bind_generator(
    symG: mx.sym.Symbol, arg_params: dict, aux_params: dict, batch_size: int, nz: int,
    contexts: list[mx.Context] | None = None, conditional: bool = False,
) -> mx.mod.Module:
    """A generator Module bound for inference on (batch_size, nz, 1, 1) noise (and one-hot digits)."""
    shapes = [(G_INPUT, (batch_size, nz, 1, 1))] + ([(COND, (batch_size, CLASSES, 1, 1))] if conditional else [])
    modG = mx.mod.Module(symG, data_names=[n for n, _ in shapes], label_names=None, context=contexts or [mx.cpu()])
    modG.bind(data_shapes=shapes, for_training=False)
    modG.set_params(arg_params, aux_params)
    return modG


def forward(modG: mx.mod.Module, z: np.ndarray, bn: str = "eval", digits: np.ndarray | None = None) -> np.ndarray:
    """Images (N, C, S, S) in [-1, 1] for noise ``z`` (N, nz, 1, 1) (and digits (N,)), N = the bound batch."""
    inputs = [mx.nd.array(z)] + ([] if digits is None else [one_hot(digits)])
    modG.forward(mx.io.DataBatch(inputs), is_train=bn == "train")
    return modG.get_outputs()[0].asnumpy()


def padded_chunks(array: np.ndarray, chunk: int):
    """Consecutive chunks of ``array``, the last zero-padded to ``chunk`` rows, with their real length."""
    for start in range(0, len(array), chunk):
        part = array[start:start + chunk]
        yield np.concatenate([part, np.zeros((chunk - len(part), *part.shape[1:]), part.dtype)]), len(part)


def generate(generator: GeneratorCheckpoint, num: int = 64, seed: int = 0, digits: np.ndarray | None = None,
             bn: str = "eval", contexts: list[mx.Context] | None = None) -> np.ndarray:
    """Images drawn from a generator.

    Parameters
    ----------
    generator : GeneratorCheckpoint
        From :func:`mxgan.load_generator` (any of the four formats, a run folder, ``RUN_DIR:best``).
    num : int
        How many images.
    seed : int
        Seed of their latent vectors (drawn from the distribution the generator was trained on).
    digits : array of int, optional
        Conditional models: the digit each image shows (default: 0-9 in turn).
    bn : {"eval", "train"}
        BatchNorm on the moving statistics (an image depends on its own z only), or on the batch's.
    contexts : list of mx.Context, optional
        Where to run (default: the CPU).

    Returns
    -------
    ndarray
        ``(num, channels, size, size)`` float32 in [-1, 1].
    """
    check_generator(generator)
    check_argument("num", num, int, declaration(SampleConfig, "num"))
    check_argument("seed", seed, int, SEED)
    check_argument("bn", bn, str, declaration(SampleConfig, "bn"))
    contexts = check_contexts(contexts)
    digits = _checked_digits(digits, num, generator)
    z = noise(seed, num, generator.arch.nz, generator.arch.noise)
    return generate_all(generator, z, bn, 64, contexts, digits)


def load_generator(spec: str | os.PathLike, weights: str | None = None) -> GeneratorCheckpoint:
    """A generator checkpoint, read for :func:`generate` and :func:`mxgan.evaluate`.

    Parameters
    ----------
    spec : str or Path
        A ``.params`` file in any of the four formats, a prefix (its newest ``-NNNN.params``), a run folder (its
        newest checkpoint) or ``RUN_DIR:best`` (its evaluated checkpoint with the lowest FID-MNIST).
    weights : {"raw", "ema"}, optional
        G's weights as trained, or their moving average (default: the average where a run folder has one, else
        the file given).

    Raises
    ------
    MxganError
        A wrong argument, an unreadable file, an unknown layout, a discriminator, or inconsistent shapes.
    """
    if isinstance(spec, os.PathLike):
        spec = os.fspath(spec)
    if not isinstance(spec, str) or not spec:
        raise MxganError(f"spec must be a checkpoint: a file, a prefix or a run folder (a str or Path), got "
                         f"{spec!r} ({type(spec).__name__})")
    if weights is not None:
        check_argument("weights", weights, str, WEIGHTS_OPTION)
    return read_generator(spec, weights)


def check_generator(generator: Any) -> None:
    """What :func:`load_generator` returns, or one :class:`MxganError` naming the argument."""
    if not isinstance(generator, GeneratorCheckpoint):
        hint = f" (mxgan.load_generator({generator!r}) reads it)" if isinstance(generator, (str, os.PathLike)) else ""
        raise MxganError(f"generator must be a GeneratorCheckpoint from mxgan.load_generator, got "
                         f"{type(generator).__name__}{hint}")


def check_contexts(contexts: Any) -> list[mx.Context] | None:
    """None (the CPU) or a non-empty list of devices, as a list; else one :class:`MxganError` naming the argument."""
    if contexts is None:
        return None
    if isinstance(contexts, mx.Context):
        contexts = [contexts]
    if (not isinstance(contexts, (list, tuple)) or not contexts
            or not all(isinstance(c, mx.Context) for c in contexts)):
        raise MxganError(f"contexts must be a list of devices, such as [mx.cpu()] or [mx.gpu(0)], got {contexts!r}")
    gpus = [c for c in contexts if c.device_type == "gpu"]
    if gpus:
        check_gpus(f"contexts {list(contexts)!r}", gpus)
    return list(contexts)


def _checked_digits(digits: Any, num: int, generator: GeneratorCheckpoint) -> np.ndarray | None:
    """``digits`` as an int array of ``num`` digits 0-9, for a conditional generator only."""
    if digits is None:
        return None
    if not generator.arch.conditional:
        raise MxganError(f"digits are for conditional models (trained with --conditional); {generator.path} is not "
                         "one")
    array = np.asarray(digits)
    if array.shape != (num,) or array.dtype.kind not in "iu" or not ((array >= 0) & (array < CLASSES)).all():
        raise MxganError(f"digits must be {num} whole numbers from 0 to {CLASSES - 1} (one per image), got "
                         f"{np.array2string(array, threshold=10)} ({array.dtype}, shape {array.shape})")
    return array


def generate_all(ckpt: GeneratorCheckpoint, z: np.ndarray, bn: str = "eval", batch_size: int = 64,
                 contexts: list[mx.Context] | None = None, digits: np.ndarray | None = None) -> np.ndarray:
    """Images for any number of z (and digits, for conditional models): in chunks of
    ``batch_size`` (eval), or as one batch (train)."""
    n = len(z)
    chunk = n if bn == "train" else min(batch_size, n)
    a = ckpt.arch
    if a.conditional and digits is None:
        digits = np.arange(n) % CLASSES
    modG = bind_generator(ckpt.symbol(), ckpt.arg_params, ckpt.aux_params, chunk, a.nz, contexts, a.conditional)
    parts = padded_chunks(z, chunk)
    if digits is None:
        return np.concatenate([forward(modG, part, bn)[:n_real] for part, n_real in parts])
    return np.concatenate([forward(modG, part, bn, d)[:n_real]
                           for (part, n_real), (d, _) in zip(parts, padded_chunks(digits, chunk))])


def discriminator_scores(ckptD, images: np.ndarray, batch_size: int = 64,
                         contexts: list[mx.Context] | None = None) -> np.ndarray:
    """D's P(real) for each image (BatchNorm on moving statistics)."""
    chunk = min(batch_size, len(images))
    modD = mx.mod.Module(ckptD.symbol(), data_names=(D_INPUT,), label_names=(D_LABEL,),
                         context=contexts or [mx.cpu()])
    modD.bind(data_shapes=[(D_INPUT, (chunk, *images.shape[1:]))], label_shapes=[(D_LABEL, (chunk,))],
              for_training=False)
    modD.set_params(ckptD.arg_params, ckptD.aux_params)
    scores = []
    for part, n_real in padded_chunks(images, chunk):
        modD.forward(mx.io.DataBatch([mx.nd.array(part)], [mx.nd.zeros((chunk,))]), is_train=False)
        scores.append(modD.get_outputs()[0].asnumpy().ravel()[:n_real])
    return np.concatenate(scores)


def _nice_discriminator(cfg: SampleConfig, ckpt: GeneratorCheckpoint) -> DiscriminatorCheckpoint:
    """The D that ``--nice`` ranks samples with: ``--discriminator``, or the D file beside G."""
    if ckpt.arch.conditional:
        raise MxganError("--nice does not support conditional models yet (their D also needs the digit)")
    ckptD = starting_discriminator(cfg.discriminator, ckpt.path)
    if ckptD is None:
        raise MxganError(f"--nice needs the discriminator: no D file beside {ckpt.path}; pass --discriminator FILE")
    if (ckptD.nc, ckptD.image_size) != (ckpt.arch.nc, ckpt.arch.image_size):
        raise MxganError(
            f"{ckptD.flag} {ckptD.path} takes {ckptD.nc}x{ckptD.image_size}px images, but the generator "
            f"makes {ckpt.arch.nc}x{ckpt.arch.image_size}px; pass the D of the same run"
        )
    return ckptD


def _latents(cfg: SampleConfig, ckpt: GeneratorCheckpoint) -> tuple[np.ndarray, np.ndarray | None, int | None]:
    """``(z, digits, grid columns)`` for the sampling mode ``cfg`` asks for."""
    arch, kind = ckpt.arch, cfg.noise or ckpt.arch.noise
    if cfg.digit and not arch.conditional:
        raise MxganError(f"--digit needs a conditional model (trained with --conditional); {ckpt.path} is not one")
    if cfg.digit == "all":  # a row per digit
        columns = max(1, cfg.num // CLASSES)
        digits = np.repeat(np.arange(CLASSES), columns)
        return noise(cfg.seed, len(digits), arch.nz, kind), digits, columns
    walk: int | None = max(2, cfg.num // cfg.interpolate) if cfg.interpolate else None  # a walk's columns
    if walk:
        z = interpolation_noise(cfg.seed, cfg.interpolate, walk, arch.nz, kind)
    else:
        z = noise(cfg.seed, cfg.num * (NICE_OVERSAMPLING if cfg.nice else 1), arch.nz, kind)
    return z, np.full(len(z), int(cfg.digit)) if cfg.digit else None, walk


def _write_outputs(cfg: SampleConfig, images: np.ndarray, columns: int | None) -> list[Path]:
    """The grid, and the .npy and one picture per image where asked: all of them, or none (interrupted)."""
    from mxgan.inference.grids import encode, make_grid

    with StagedOutputs() as outputs:
        if cfg.separate:
            folder = outputs.folder(Path(cfg.separate))
            for i in range(len(images)):
                (folder / f"{i:04d}.png").write_bytes(encode(Path("x.png"), make_grid(images[i:i + 1])))
        if cfg.npy:
            def save_npy(tmp: str) -> None:
                with open(tmp, "wb") as f:
                    np.save(f, images)
            outputs.file(Path(cfg.npy), save_npy)
        outputs.content(Path(cfg.out), encode(Path(cfg.out), make_grid(images, columns)))
        return outputs.commit()


def draw_samples(cfg: SampleConfig) -> list[Path]:
    """Draw images as ``cfg`` asks (``mxgan sample``); write them (all of them, or none); return the files written.
    """
    contexts = parse_ctx(cfg.ctx)
    ckpt = load_for_sampling(cfg.checkpoint, cfg.weights or None, cfg.recalibrate_bn, cfg.seed, contexts)
    ckptD = _nice_discriminator(cfg, ckpt) if cfg.nice else None
    z, digits, columns = _latents(cfg, ckpt)
    images = generate_all(ckpt, z, cfg.bn, cfg.batch_size, contexts, digits)
    if ckptD is not None:  # --nice: keep the ones D scores highest
        scores = discriminator_scores(ckptD, images, cfg.batch_size, contexts)
        images = images[np.argsort(-scores, kind="stable")[:cfg.num]]
    return _write_outputs(cfg, images, columns)
