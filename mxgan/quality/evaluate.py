"""Judging generators against MNIST: one checkpoint (``mxgan eval``), or every set of a run folder (``--all``),
with when each was checked in training."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.checkpoints.run_folder import EMA_ROLE, read_run_state
from mxgan.config import JUDGED, SEED, check_argument
from mxgan.data.idx import default_data_dir
from mxgan.errors import MxganError
from mxgan.inference.recalibrate import load_for_sampling
from mxgan.inference.sampling import check_contexts, check_generator, generate_all
from mxgan.model.latent import noise
from mxgan.quality.classifier import Classifier, load_classifier
from mxgan.quality.metrics import QualityReport, Reference, check_mnist_shaped, judge, mnist_reference
from mxgan.runtime.humanize import duration


def evaluate_generator(ckpt: GeneratorCheckpoint, data_dir: Path, num: int = 10000, seed: int = 0,
                       batch_size: int = 250, contexts: list | None = None,
                       judged_by: tuple[Classifier, Reference] | None = None) -> QualityReport:
    """``mxgan eval``: judge ``num`` samples of a loaded generator checkpoint against MNIST.

    A conditional model is asked for every digit equally often, and the report
    says how often it drew the digit asked for. ``judged_by``: a classifier and
    its reference for this image size, when judging several generators.
    """
    check_mnist_shaped(ckpt.arch.nc, ckpt.arch.image_size)
    if judged_by is None:
        classifier = load_classifier(contexts=contexts)
        judged_by = classifier, mnist_reference(classifier, data_dir, ckpt.arch.image_size)
    digits = np.arange(num) % 10 if ckpt.arch.conditional else None
    images = generate_all(ckpt, noise(seed, num, ckpt.arch.nz, ckpt.arch.noise), "eval", batch_size, contexts, digits)
    return judge(images, *judged_by, digits)


def evaluate(generator: GeneratorCheckpoint, num: int = 10000, seed: int = 0, data_dir: str | Path = "",
             contexts: list | None = None) -> QualityReport:
    """How MNIST-like a generator's samples are, by the classifier that ships with mxgan.

    Parameters
    ----------
    generator : GeneratorCheckpoint
        From :func:`mxgan.load_generator` (1 or 3 channels, 16, 32 or 64 px).
    num : int
        Samples to judge (10 or more; 10000 for figures to compare).
    seed : int
        Seed of their latent vectors.
    data_dir : str or Path
        The folder holding ``mnist/`` (default: ``$MXGAN_DATA_DIR``, else ``./data``).
    contexts : list of mx.Context, optional
        Where to run (default: the CPU).

    Returns
    -------
    QualityReport
        FID-MNIST (and its floor), the digit histogram, the mean confidence, precision, recall, density and
        coverage; ``.format()`` is what ``mxgan eval`` prints.
    """
    check_generator(generator)
    check_argument("num", num, int, JUDGED)
    check_argument("seed", seed, int, SEED)
    if not isinstance(data_dir, (str, os.PathLike)):
        raise MxganError(f"data_dir must be the folder holding mnist/ (a str or Path), got {data_dir!r}")
    return evaluate_generator(generator, Path(data_dir) if data_dir else default_data_dir(), num, seed,
                              contexts=check_contexts(contexts))


def evaluate_run(run: Path, weights: str | None, recalibrate: int, data_dir: Path, num: int = 10000, seed: int = 0,
                 batch_size: int = 250, contexts: list | None = None) -> list[dict]:
    """``mxgan eval RUN_DIR --all``: every checkpoint set a run folder holds, judged alike, oldest first."""
    state = read_run_state(run)
    best = state.best["files"] if state.best else None
    checks = {json.dumps(e["files"], sort_keys=True): e for e in state.evaluations}
    classifier, reference, rows = load_classifier(contexts=contexts), None, []
    for files in state.file_sets():
        ckpt = load_for_sampling(str(run / files["G"]), weights or ("ema" if EMA_ROLE in files else "raw"),
                                 recalibrate, seed, contexts)
        reference = reference or mnist_reference(classifier, data_dir, ckpt.arch.image_size)
        report = evaluate_generator(ckpt, data_dir, num, seed, batch_size, contexts, (classifier, reference))
        check = checks.get(json.dumps(files, sort_keys=True), {})
        in_training = {key: check.get(key) for key in ("iteration", "seconds", "fid", "fid_raw")}
        rows.append({"file": ckpt.path.name, "best": files == best, "in_training": in_training, **report.to_json()})
    return rows


def _known(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def format_run_table(rows: list[dict]) -> str:
    """The rows of :func:`evaluate_run` as a table (``*``: the run's best, as ``RUN_DIR:best`` selects it), with
    when and how each set was judged during training, where it was (``-``: it was not)."""
    lines = ["checkpoint | iteration | training time | FID in training (sampled / raw) | FID-MNIST | rarest digit | "
             "mean confidence | precision | recall | density | coverage"]
    for r in rows:
        check = r["in_training"]
        trained = "-" if check["seconds"] is None else duration(check["seconds"])
        lines.append(
            f"{r['file']}{' *' if r['best'] else ''} | {_known(check['iteration'], '{:d}')} | {trained} | "
            f"{_known(check['fid'], '{:.2f}')} / {_known(check['fid_raw'], '{:.2f}')} | {r['fid']:.2f} | "
            f"{100 * min(r['histogram']):.1f}% | {r['mean_confidence']:.3f} | {r['precision']:.3f} | "
            f"{r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f}")
    return "\n".join(lines)
