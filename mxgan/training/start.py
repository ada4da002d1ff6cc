"""Where a run starts: its data, its modules, and its weights (fresh, from ``--checkpoint`` and
``--discriminator``, or from the newest complete checkpoint set of a run it resumes), its folder started or
cut back. Nothing is written before every check passed; the lead worker alone writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import mxnet as mx

from mxgan.checkpoints.formats import (
    Architecture,
    DiscriminatorCheckpoint,
    GeneratorCheckpoint,
    check_shapes,
    load_generator,
    starting_discriminator,
)
from mxgan.checkpoints.module_format import load_module_params
from mxgan.checkpoints.run_folder import (
    EMA_ROLE,
    EMA_RUNNING,
    HOOKS,
    Progress,
    ResumePoint,
    read_run_state,
    restore_optimizers,
    restore_weights,
)
from mxgan.checkpoints.state_file import inside
from mxgan.config import TrainConfig
from mxgan.constants import D_INPUT, D_LABEL
from mxgan.data.batches import Shard
from mxgan.data.sources import Batches, data_identity, training_batches
from mxgan.errors import MxganError
from mxgan.jsontext import read_json
from mxgan.model.modules import GAN, GanSpec, build_gan, set_generator_params
from mxgan.model.symbols import make_discriminator_sym, pad_single_filter_params
from mxgan.runtime.distributed import Cluster, connect
from mxgan.runtime.fileio import FolderLock
from mxgan.runtime.precision import describe_dtype
from mxgan.training.ema import GeneratorEMA
from mxgan.training.resume import begin_run_folder, check_same_data, claim_folder, cut_back


def gan_spec(cfg: TrainConfig) -> GanSpec:
    """The networks and Adam a run's options build (made once, at start-up)."""
    return GanSpec(cfg.batch_size, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size, lr_g=cfg.lr_g,
                   lr_d=cfg.lr_d, beta1=cfg.beta1, beta2=cfg.beta2, wd=cfg.wd, init_sigma=cfg.init_sigma,
                   fix_gamma_G=cfg.g_fix_gamma, fix_gamma_D=cfg.d_fix_gamma, dtype=cfg.dtype,
                   cudnn_tune=cfg.cudnn_tune or None, conditional=cfg.conditional)


def architecture(spec: GanSpec, noise: str) -> Architecture:
    """The generator ``spec`` builds (standard shapes, for inference and checks)."""
    return Architecture(nz=spec.nz, ngf=spec.ngf, nc=spec.channels, image_size=spec.image_size,
                        fix_gamma=spec.fix_gamma_G, conditional=spec.conditional, noise=noise)


class StartingPoints(NamedTuple):
    """``--checkpoint``'s G and ``--discriminator``'s D (either may be absent)."""

    G: GeneratorCheckpoint | None = None
    D: DiscriminatorCheckpoint | None = None

    def options(self, cfg: TrainConfig) -> TrainConfig:
        """``cfg`` as these checkpoints make it: whether each network learns BatchNorm's gamma (a copy)."""
        return replace(cfg, g_fix_gamma=not self.G.learns_gamma if self.G else cfg.g_fix_gamma,
                       d_fix_gamma=not self.D.learns_gamma if self.D else cfg.d_fix_gamma)


def _starting_points(cfg: TrainConfig) -> StartingPoints:
    """``--checkpoint``'s G and ``--discriminator``'s D (else the D file beside G, if any), checked against the
    flags before anything is written, so a mismatch leaves no folder behind."""
    start = load_generator(cfg.checkpoint) if cfg.checkpoint else None
    if start is not None:
        mine = architecture(gan_spec(StartingPoints(start).options(cfg)), cfg.noise)
        try:
            check_shapes(mine.symbol(), start.arg_params, start.aux_params, mine.inputs(), start.path)
        except MxganError as exc:
            raise MxganError(f"{exc}; the checkpoint was trained with {start.flags()}: pass those flags") from exc
    startD = starting_discriminator(cfg.discriminator, start.path if start else None)
    if startD is None:
        return StartingPoints(start)
    inputs = {D_INPUT: (1, cfg.channels, cfg.image_size, cfg.image_size), D_LABEL: (1,)}
    try:
        check_shapes(make_discriminator_sym(cfg.ndf, image_size=cfg.image_size), startD.arg_params,
                     startD.aux_params, inputs, f"{startD.flag} {startD.path}")
    except MxganError as exc:
        raise MxganError(f"{exc}; that discriminator was trained with {startD.flags()}: pass those flags") from exc
    return StartingPoints(start, startD)


def _start_from(gan: GAN, starting: StartingPoints) -> str:
    """Load the starting G and D into the modules; say where each came from."""
    fresh, start, startD = "starts fresh", starting.G, starting.D
    if start is not None:
        set_generator_params(gan.modG, start.arg_params, start.aux_params)
    if startD is not None:
        gan.modD.set_params(startD.arg_params, startD.aux_params)
    whence_g = f"G from {start.path} ({start.format})" if start else f"G {fresh}"
    whence_d = (f"D from {startD.path} ({startD.format})" if startD
                else f"D {fresh}" + (" (no D file beside it)" if start else ""))
    return f"{whence_g}, {whence_d}"


def restore_ema(out: Path, gan: GAN, ema: GeneratorEMA, announce: Callable[[str], object]) -> None:
    """Continue G's moving average from the set the run resumed from (a run that had none, or whose average
    does not load into this G, starts it from G: said)."""
    state = read_run_state(out)  # cut back to that set by now
    role = EMA_RUNNING if EMA_RUNNING in state.files else EMA_ROLE if EMA_ROLE in state.files else None
    if role is None:
        return
    try:
        if role == EMA_RUNNING:  # the average between its folds: the run goes on as if never stopped
            averages = mx.nd.load(str(inside(out, state.files[role])))
        else:  # an older mxgan's set: the saved average
            averages = pad_single_filter_params(gan.modG.symbol, load_module_params(out / state.files[role])[0])
        ema.restore(averages, state.ema_updates)
    except (mx.MXNetError, MxganError, ValueError, TypeError, OSError) as exc:  # the average is G's weights still
        announce(f"{out}: {state.files[role]} does not load into this G ({type(exc).__name__}): its moving average "
                 "starts again from G")


def restore_hook_states(out: Path, announce: Callable[[str], object]) -> dict[str, dict]:
    """Every hook's state as the set the run resumed from keeps it (an older mxgan's set: none, said)."""
    state = read_run_state(out)  # cut back to that set by now
    if HOOKS not in state.files:
        announce(f"{out}: {state.newest.describe()} keeps no hook state (written by an older mxgan): the hooks start "
                 "afresh")
        return {}
    try:
        saved = read_json(inside(out, state.files[HOOKS]))
    except (OSError, ValueError) as exc:  # the set's weights verified, this file need not (Adam's fallback)
        announce(f"{out}: {state.files[HOOKS]} does not load ({exc}): the hooks start afresh")
        return {}
    if not isinstance(saved, dict) or not all(isinstance(v, dict) for v in saved.values()):
        announce(f"{out}: {state.files[HOOKS]} is not a hook state: the hooks start afresh")
        return {}
    return saved


class Ground(NamedTuple):
    """What a run stands on before its networks: its batches, what they are, and its place among the workers."""

    batches: Batches
    cluster: Cluster
    data: dict  # what it trains on (mxgan.data.sources.data_identity), kept in state.json


class Start(NamedTuple):
    """What a run starts from: its options (as its starting checkpoints make them), its modules and the
    generator they build, its data, and where it is (a new run: nowhere yet)."""

    cfg: TrainConfig
    gan: GAN
    architecture: Architecture
    batches: Batches
    progress: Progress
    cluster: Cluster
    data: dict
    seconds: float = 0.0  # training time already spent (a resumed run)


def build_seeded_gan(spec: GanSpec, seed: int, contexts: list[mx.Context]) -> GAN:
    """The networks of ``spec``, their weights drawn from ``seed``."""
    mx.random.seed(seed)
    return build_gan(spec, contexts)


def prepare(cfg: TrainConfig, contexts: list[mx.Context], announce: Callable[[str], object], lock: FolderLock,
            ) -> Start:
    """The modules, data and position of a run, its folder started (or cut back to its newest complete set)
    and locked. The lead worker claims the folder (takes its lock), then decides what the folder holds and
    whether it may write there, then writes: a run that ended meanwhile is never overwritten. Nothing is
    written before every check passed."""
    out, flag = Path(cfg.out), "--resume" if cfg.resume else "--out"
    cluster = connect(cfg.kvstore)
    if cluster.distributed:
        announce(f"kvstore {cfg.kvstore}: this worker has rank {cluster.rank} of {cluster.workers}")
    if cfg.resume and cluster.lead:
        lock.acquire(flag)  # the folder exists: claiming it first creates nothing
    starting = StartingPoints() if cfg.resume else _starting_points(cfg)
    batches, described = training_batches(cfg, Shard(cluster.rank, cluster.workers))
    announce(described)
    if cfg.dtype != "float32":
        announce(describe_dtype(cfg.dtype))
    ground = Ground(batches, cluster, data_identity(cfg, batches))
    if not cfg.resume and cluster.lead:
        lock.acquire(flag)  # a new folder is created only now, once the data has loaded
    claim = claim_folder(out, flag)  # decided again, under the lock
    if claim is None:
        if cfg.resume:
            announce(f"{out} holds no complete checkpoint set yet: the run starts from its beginning, with its "
                     "options")
        return _begin(starting.options(cfg), contexts, announce, ground, starting)
    if not cfg.resume:
        raise MxganError(f"--out {out} already holds a run (it was written while this one started); continue it "
                         f"with --resume {out}, or choose a new --out")
    state, point = claim
    check_same_data(cfg, state.data, ground.data, _position(point.checkpoint.progress))
    start = _resume(cfg, contexts, announce, point, ground)  # loaded before the folder is cut back: a set that
    if cluster.lead:                                          # does not load leaves every file as it was
        cut_back(out, cfg, state, point, ground.data)
    return start


def _begin(cfg: TrainConfig, contexts: list[mx.Context], announce: Callable[[str], object], ground: Ground,
           starting: StartingPoints) -> Start:
    """A run from its beginning: its folder started, its networks fresh or from --checkpoint/--discriminator."""
    if ground.cluster.lead:
        begin_run_folder(Path(cfg.out), cfg, ground.data)
    spec = gan_spec(cfg)
    gan = build_seeded_gan(spec, cfg.seed, contexts)
    if starting.G or starting.D:
        announce(_start_from(gan, starting))
    gan.attach_optimizers(ground.cluster.kvstore, ground.cluster.workers)
    return Start(cfg, gan, architecture(spec, cfg.noise), ground.batches, Progress(), ground.cluster, ground.data)


def _resume(cfg: TrainConfig, contexts: list[mx.Context], announce: Callable[[str], object], point: ResumePoint,
            ground: Ground) -> Start:
    """A run from ``point``, its newest complete set: weights, Adam's state, and the position after it."""
    out, checkpoint, cluster, spec = Path(cfg.out), point.checkpoint, ground.cluster, gan_spec(cfg)
    gan = build_seeded_gan(spec, cfg.seed, contexts)
    restore_weights(out, gan, checkpoint)
    gan.attach_optimizers(cluster.kvstore, cluster.workers)
    restarted = restore_optimizers(out, gan, checkpoint, cluster.updates_on_servers) if point.adam else ""
    for note in [*point.notes, restarted]:
        if note:
            announce(f"{out}: {note}")
    progress = checkpoint.progress
    assert progress is not None
    if progress.batch >= ground.batches.batches_per_epoch:  # the checkpoint closed its epoch
        progress = Progress(progress.epoch + 1, 0, progress.iteration)
    announce(f"resuming {out} at iteration {progress.iteration} ({_position(progress)})")
    return Start(cfg, gan, architecture(spec, cfg.noise), ground.batches, progress, cluster, ground.data,
                 checkpoint.seconds)


def _position(progress: Progress | None) -> str:
    return "the start" if progress is None else f"epoch {progress.epoch}, batch {progress.batch}"
