"""Everything checked about a training run before any work: its options, how they combine, the machine, its
folder, and for ``--resume`` the run it continues. Each problem is one :class:`MxganError` naming the flag;
nothing is created, and an existing run is never overwritten."""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from mxgan.checkpoints.formats import load_generator, resolve
from mxgan.checkpoints.run_folder import has_state, read_run_state
from mxgan.config import (
    RESUME_OVERRIDES,
    TrainConfig,
    load_run_options,
    options,
    run_options_from,
)
from mxgan.constants import D_INPUT, D_LABEL, G_INPUT, GRAY_DATASETS, RUN_OPTIONS_FILE, STATE_FILE
from mxgan.data.idx import default_data_dir
from mxgan.errors import MxganError
from mxgan.quality.evaluator import EvaluatorChoice
from mxgan.quality.inception_weights import find_weights
from mxgan.runtime.devices import on_gpu
from mxgan.runtime.distributed import check_kvstore
from mxgan.runtime.fileio import LONGEST_INSIDE, check_name_fits, check_writable
from mxgan.runtime.precision import resolve_dtype
from mxgan.training.resume import claim_folder

log = logging.getLogger(__name__)


def resume_config(run: Path, **changes: Any) -> TrainConfig:
    """The options of the run in folder ``run`` (its ``run.json``, checked as the flags are), with ``changes``
    to those a resume may change (:data:`mxgan.config.RESUME_OVERRIDES`)."""
    flags = dict(options(TrainConfig))
    fixed = sorted(set(changes) - set(RESUME_OVERRIDES))
    if fixed:
        raise MxganError(f"--resume keeps the run's own {', '.join(flags[n].flag(n) for n in fixed)}; only "
                         f"{', '.join(flags[n].flag(n) for n in RESUME_OVERRIDES)} may change")
    if run.exists() and not run.is_dir():
        raise MxganError(f"--resume {run} is a file; pass the run's folder (the --out it was started with)")
    saved = _saved_options(run)
    resumed = replace(saved, **changes, out=str(run), resume=str(run))  # the changes checked as declared
    if "data_dir" not in changes and saved.dataset != "synthetic" and not Path(saved.data_dir).exists():
        raise MxganError(f"--resume {run}: the run's data, {saved.data_dir}, is gone (moved?); pass --data-dir "
                         "where the same images are now")
    if "tensorboard" not in changes and saved.tensorboard and not _inside(Path(saved.tensorboard), run):
        log.warning(f"--resume {run}: its run.json asks for TensorBoard logs in {saved.tensorboard}, outside the run "
                    f"folder, which a run folder may not direct: none are written; give --tensorboard "
                    f"{saved.tensorboard} to go on writing there")
        resumed = replace(resumed, tensorboard="")
    return resumed


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())


def resumed_config(cfg: TrainConfig) -> TrainConfig:
    """``TrainConfig(resume=RUN, ...)``, the Python API's resume, as the run's own options: the fields ``cfg``
    sets (those that differ from both their default and the run's value) are the changes, which only a
    resume's options may be (the command line's ``--resume RUN --epochs 30``)."""
    run = Path(cfg.resume)
    if cfg.out and Path(cfg.out) != run:
        raise MxganError(f"resume={cfg.resume!r} continues the run in its own folder; leave out unset (got "
                         f"out={cfg.out!r})")
    default, saved = TrainConfig(), _saved_options(run) if run.is_dir() else None
    changes = {name: getattr(cfg, name) for name, _ in options(TrainConfig)
               if name not in ("resume", "out") and getattr(cfg, name) != getattr(default, name)
               and (saved is None or getattr(cfg, name) != getattr(saved, name))}
    return resume_config(run, **changes)


def _saved_options(run: Path) -> TrainConfig:
    """The run's options: its run.json, or where that is lost or damaged, the copy state.json keeps (said)."""
    try:
        saved = load_run_options(run)
        lost = f"no {RUN_OPTIONS_FILE} there"
    except MxganError as exc:
        saved, lost = None, str(exc)
    if saved is not None:
        return saved
    try:
        state = read_run_state(run) if has_state(run) else None
    except MxganError:
        state = None
    if state is None or not state.options:
        raise MxganError(f"--resume {run}: {lost.removeprefix(f'--resume {run}: ')}, and no {STATE_FILE} keeps a "
                         "copy of the options; pass the run folder a training run created")
    options = run_options_from(state.options, f"--resume {run}: {state.source}'s copy of the options")
    log.warning("--resume %s: %s; the options are %s's copy (run.json is written again)", run,
                lost.removeprefix(f"--resume {run}: "), state.source)
    return options


def check_train_config(cfg: TrainConfig, environ: Mapping[str, str] | None = None) -> TrainConfig:
    """``cfg`` with its folders filled in (``--out``: ``runs/<dataset>-<timestamp>``, ``--data-dir``: the
    default one), after every check that can be made before data loads or MXNet binds. ``environ``: the
    environment the run will have (``mxgan launch`` checks its workers' flags before it starts them)."""
    # replace() builds the config again: every field checked as declared (one set after construction too)
    cfg = replace(cfg, data_dir=cfg.data_dir or str(default_data_dir()))
    if not cfg.resume:
        cfg = replace(cfg, out=cfg.out or str(Path("runs") / f"{cfg.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"))
    _check_combinations(cfg, environ)
    cfg = replace(cfg, dtype=resolve_dtype(cfg.dtype, on_gpu(cfg.ctx)))  # auto resolved: a resume keeps the choice
    out = Path(cfg.out)
    if cfg.resume:
        _check_resumed_run(out, cfg)
        return cfg
    check_name_fits(out, "--out", inside=LONGEST_INSIDE)
    if out.exists() and not out.is_dir():
        raise MxganError(f"--out {out} is a file; choose a folder for the run")
    # a folder whose run died before its first complete checkpoint holds nothing to lose: the same command reuses it
    if claim_folder(out, "--out") is not None:  # decided again under the folder's lock, before anything is written
        raise MxganError(f"--out {out} already holds a run; continue it with --resume {out}, or choose a new --out")
    check_writable(out)
    for flag, role in (("checkpoint", "G"), ("discriminator", "D")):
        if getattr(cfg, flag):
            resolve(getattr(cfg, flag), role, flag=f"--{flag}")  # exists, or one clear error now
    return cfg


def _check_resumed_run(run: Path, cfg: TrainConfig) -> None:
    check_writable(run, "--resume")
    claim = claim_folder(run, "--resume")  # a folder no run may touch is one line now, not after the data
    if claim is None:
        return  # no checkpoint yet: the resume starts the run from its beginning
    try:
        saved = load_generator(str(run / claim[1].checkpoint.files["G"])).arch
    except MxganError:
        return  # an unreadable set: the resume passes over it (and says so)
    built = (cfg.nz, cfg.ngf, cfg.channels, cfg.image_size, cfg.conditional)
    if built != (saved.nz, saved.ngf, saved.nc, saved.image_size, saved.conditional):
        raise MxganError(f"--resume {run}: run.json: its --nz {cfg.nz} --ngf {cfg.ngf} --channels {cfg.channels} "
                         f"--image-size {cfg.image_size} do not build the network of the run's checkpoint, which was "
                         f"trained with --nz {saved.nz} --ngf {saved.ngf} --channels {saved.nc} --image-size "
                         f"{saved.image_size}")


def _check_combinations(cfg: TrainConfig, environ: Mapping[str, str] | None) -> None:
    """The checks that involve more than one option, the devices or an installed extra."""
    dataset = cfg.dataset
    if cfg.conditional and dataset not in GRAY_DATASETS:
        raise MxganError(f"--conditional needs labelled data: --dataset mnist or fashion-mnist, not {dataset}")
    if dataset in ("folder", "rec") and not cfg.data_dir:
        what = "the folder of pictures" if dataset == "folder" else "the .rec file written by mxgan pack"
        raise MxganError(f"--dataset {dataset} needs --data-dir: {what}")
    if cfg.until_fid:
        if not cfg.eval_every:
            raise MxganError("--until-fid needs quality checks: --eval-every 0 turns them off")
        if EvaluatorChoice(dataset, cfg.image_size, cfg.channels).inception:
            find_weights()  # FID on any data but MNIST needs the Inception network: one line, where to get it
    check_kvstore(cfg.kvstore, environ)
    if cfg.tensorboard:
        try:
            import tensorboardX  # noqa: F401
        except ImportError as exc:
            raise MxganError("--tensorboard needs tensorboardX: pip install '.[tensorboard]'") from exc
        check_writable(Path(cfg.tensorboard), "--tensorboard")
    _check_memory(cfg)


def _check_memory(cfg: TrainConfig) -> None:
    """Refuse networks whose weights alone (with their gradients and Adam's two moments) exceed this machine's
    memory, before MXNet tries to allocate them."""
    from mxgan.model.symbols import make_dcgan_sym

    symG, symD = make_dcgan_sym(cfg.ngf, cfg.ndf, cfg.channels, image_size=cfg.image_size)
    size = cfg.image_size
    shapes = (symG.infer_shape(**{G_INPUT: (1, cfg.nz, 1, 1)})[0] +
              symD.infer_shape(**{D_INPUT: (1, cfg.channels, size, size), D_LABEL: (1,)})[0])
    weights = sum(math.prod(shape) for shape in shapes)
    needed, available = 16 * weights, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available:
        raise MxganError(f"--ngf {cfg.ngf} / --ndf {cfg.ndf}: G and D would need {needed / 2**30:,.0f} GiB for their "
                         f"weights, gradients and Adam's moments; this machine has {available / 2**30:.0f} GiB (64 is "
                         "the example's width)")
