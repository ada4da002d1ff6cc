"""Measuring generators: one checkpoint (``mxgan eval``, the API's :func:`evaluate`), or every set of a run folder
(``--all``), with when each was checked in training; all through one :mod:`mxgan.quality.evaluator`."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from mxgan.checkpoints.formats import GeneratorCheckpoint
from mxgan.checkpoints.run_folder import EMA_ROLE, CheckpointSet, read_run_state
from mxgan.config import MEASURED, SEED, check_argument
from mxgan.data.idx import default_data_dir
from mxgan.errors import MxganError
from mxgan.inference.recalibrate import load_for_sampling
from mxgan.inference.sampling import check_contexts, check_generator
from mxgan.quality.evaluator import Evaluator, MnistEvaluator
from mxgan.quality.evaluator import evaluate as evaluate_with
from mxgan.quality.metrics import QualityReport
from mxgan.runtime.humanize import duration

log = logging.getLogger(__name__)


def evaluate_generator(ckpt: GeneratorCheckpoint, data_dir: Path, num: int = 10000, seed: int = 0,
                       batch_size: int = 250, contexts: list | None = None) -> QualityReport:
    """``num`` samples of a loaded generator checkpoint measured against MNIST (FID-MNIST, the digit histogram);
    a conditional model is asked for every digit equally often, and the report says how often it drew it."""
    evaluator = MnistEvaluator(data_dir, ckpt.arch.image_size, ckpt.arch.nc, contexts)
    report = evaluate_with(evaluator, ckpt, num, seed, batch_size, contexts)
    assert isinstance(report, QualityReport)
    return report


def evaluate(generator: GeneratorCheckpoint, num: int = 10000, seed: int = 0, data_dir: str | Path = "",
             contexts: list | None = None) -> QualityReport:
    """How MNIST-like a generator's samples are, by the classifier that ships with mxgan.

    Parameters
    ----------
    generator : GeneratorCheckpoint
        From :func:`mxgan.load_generator` (1 or 3 channels, 16, 32 or 64 px).
    num : int
        Samples to measure (10 or more; 10000 for figures to compare).
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
    check_argument("num", num, int, MEASURED)
    check_argument("seed", seed, int, SEED)
    if not isinstance(data_dir, (str, os.PathLike)):
        raise MxganError(f"data_dir must be the folder holding mnist/ (a str or Path), got {data_dir!r}")
    return evaluate_generator(generator, Path(data_dir) if data_dir else default_data_dir(), num, seed,
                              contexts=check_contexts(contexts))


def evaluate_run(run: Path, weights: str | None, recalibrate: int, evaluator: Evaluator, num: int = 10000,
                 seed: int = 0, batch_size: int = 250, contexts: list | None = None) -> list[dict]:
    """``mxgan eval RUN_DIR --all``: every checkpoint set a run folder holds, measured alike, oldest first; a set
    whose files are missing, changed or unreadable is said (a warning of the ``mxgan`` logger) and passed
    over; an error if none is left."""
    state = read_run_state(run)
    best = state.best["files"] if state.best else None
    checks = {json.dumps(e["files"], sort_keys=True): e for e in state.evaluations}
    rows = []
    for each in state.checkpoints:
        ckpt = _loaded(run, each, weights, recalibrate, seed, contexts)
        if ckpt is None:
            continue
        report = evaluate_with(evaluator, ckpt, num, seed, batch_size, contexts)
        check = checks.get(json.dumps(each.files, sort_keys=True), {})
        in_training = {key: check.get(key) for key in ("iteration", "seconds", "fid", "fid_raw")}
        rows.append({"file": ckpt.path.name, "best": each.files == best, "in_training": in_training,
                     **report.to_json()})
    if not rows:
        raise MxganError(f"--all {run}: none of its {len(state.checkpoints)} checkpoint sets could be measured (each "
                         "said above); resume the run or train again to write good ones")
    return rows


def _loaded(run: Path, checkpoint: CheckpointSet, weights: str | None, recalibrate: int, seed: int,
            contexts: list | None) -> GeneratorCheckpoint | None:
    """The generator of one set of a run (None, said, when its files are not as written)."""
    weights = weights or ("ema" if EMA_ROLE in checkpoint.files else "raw")
    try:
        problem = checkpoint.problem(run, ("G", EMA_ROLE) if weights == "ema" else ("G",))
        if problem:
            raise MxganError(problem)
        return load_for_sampling(str(run / checkpoint.files["G"]), weights, recalibrate, seed, contexts)
    except MxganError as exc:  # this set only: the others are measured still
        log.warning("passed over %s: %s", checkpoint.describe(), exc)
        return None


def _known(value: float | None, form: str) -> str:
    return "-" if value is None else form.format(value)


def format_run_table(rows: list[dict], metric: str) -> str:
    """The rows of :func:`evaluate_run` as a table (``*``: the run's best, as ``RUN_DIR:best`` selects it), with
    when and how each set was measured during training, where it was (``-``: it was not). ``metric``: the
    evaluator's (FID-MNIST adds the rarest digit and the classifier's confidence; FID adds KID)."""
    mnist = metric == "FID-MNIST"
    extra = "rarest digit | mean confidence" if mnist else "KID (x 1e-3)"
    lines = [f"checkpoint | iteration | training time | FID in training (sampled / raw) | {metric} | {extra} | "
             "precision | recall | density | coverage"]
    for r in rows:
        check = r["in_training"]
        trained = "-" if check["seconds"] is None else duration(check["seconds"])
        shown = (f"{100 * min(r['histogram']):.1f}% | {r['mean_confidence']:.3f}" if mnist
                 else f"{1000 * r['kid']:.2f}")
        lines.append(
            f"{r['file']}{' *' if r['best'] else ''} | {_known(check['iteration'], '{:d}')} | {trained} | "
            f"{_known(check['fid'], '{:.2f}')} / {_known(check['fid_raw'], '{:.2f}')} | {r['fid']:.2f} | "
            f"{shown} | {r['precision']:.3f} | {r['recall']:.3f} | {r['density']:.3f} | {r['coverage']:.3f}")
    return "\n".join(lines)
