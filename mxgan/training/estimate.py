"""A run's length before it starts (``mxgan train --dry-run``): its steps and quality checks, counted from its
options and data, and the time of a few real steps and of a small quality check on this machine."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import count, islice
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.checkpoints.run_folder import Progress, read_run_state
from mxgan.config import TrainConfig
from mxgan.constants import CLASSES
from mxgan.data.batches import ImageBatches
from mxgan.data.idx import IDX_DATASETS, IDX_LABELS_HEADER, locate_dataset
from mxgan.data.sources import Batches, training_batches
from mxgan.inference.sampling import generate_all
from mxgan.model.latent import noise
from mxgan.quality.evaluator import DRAW_BATCH, TRAINING_REFERENCE_IMAGES, EvaluatorChoice, make_evaluator
from mxgan.quality.inception_weights import inception_weights_found
from mxgan.runtime.amx import cpu_model
from mxgan.runtime.devices import parse_ctx
from mxgan.runtime.env import available_cores
from mxgan.runtime.humanize import duration
from mxgan.training.ema import GeneratorEMA
from mxgan.training.hooks import steps_between_checks
from mxgan.training.start import architecture, build_seeded_gan, gan_spec
from mxgan.training.trainer import Trainer, total_steps

TIMED_STEPS = 4  # the first sets up (binds, warms the caches); the pace is the median of the rest


@dataclass(frozen=True)
class CheckCost:
    """What the quality checks take: each one, and the reference the first one makes."""

    seconds: float  # a check: every generator it measures (the raw G, and its moving average)
    once: float  # the reference: the data's features (an Inception run's are kept in its folder)


@dataclass(frozen=True)
class RunLength:
    """How long a run is in steps and checks, and how long they take here."""

    steps_per_epoch: int
    done: int  # steps trained already (a resumed run)
    total: int  # steps when it ends (--epochs, --max-steps)
    checks: int  # quality checks among the steps left
    check_samples: int
    seconds_per_step: float  # G's and D's updates and the moving average's
    check: CheckCost | None  # None: the run makes no checks
    batch_size: int
    machine: str
    stand_in: str = ""  # what the steps were timed on, where the run's data is not here yet

    def seconds(self) -> float:
        """The steps left and their checks (sample grids and checkpoints take a little more)."""
        steps = (self.total - self.done) * self.seconds_per_step
        return steps + (self.checks * self.check.seconds + self.check.once if self.check and self.checks else 0.0)

    def format(self) -> str:
        """What a user reads before starting: the run's size, what its parts take here, and the sum."""
        left = self.total - self.done
        steps = f"{left} steps left of {self.total}" if self.done else f"{left} steps"
        checks = (f"{self.checks} quality check{'s' if self.checks != 1 else ''} of {self.check_samples} samples"
                  if self.checks else "no quality checks")
        timed = f"a step {self.seconds_per_step:.2f} s ({self.batch_size / self.seconds_per_step:.1f} images/s)"
        if self.check and self.checks:
            timed += (f", a quality check {duration(self.check.seconds)} (its reference, once: "
                      f"{duration(self.check.once)})")
        epoch = self.seconds_per_step * self.steps_per_epoch
        return (f"the run: {steps} ({self.steps_per_epoch} an epoch), {checks}\n"
                + (f"{self.stand_in}\n" if self.stand_in else "")
                + f"timed on {self.machine}: {timed}\n"
                f"so about {duration(epoch)} an epoch of steps, and {duration(self.seconds())} for the "
                f"{'rest of the ' if self.done else ''}run (sample grids and checkpoints add a little)")


def run_length(cfg: TrainConfig) -> RunLength:
    """``cfg``'s run (checked) counted, and timed on a few of its own batches: fresh networks, in this process
    (a distributed run's workers each take their share of the steps)."""
    batches, per_epoch, stand_in = _batches(cfg)
    total = total_steps(cfg, per_epoch)
    done = read_run_state(Path(cfg.out)).progress.iteration if cfg.resume else 0
    every = steps_between_checks(cfg.eval_every, per_epoch) if checks_run(cfg) else 0
    checks = total // every - done // every if every else 0
    contexts = parse_ctx(cfg.ctx)
    spec = gan_spec(cfg)
    trainer = Trainer(cfg, build_seeded_gan(spec, cfg.seed, contexts), architecture(spec, cfg.noise), batches,
                      Progress(), contexts)
    trainer.gan.attach_optimizers()
    machine = f"{cpu_model()}, {available_cores()} cores" if "gpu" not in cfg.ctx else cfg.ctx
    return RunLength(per_epoch, done, total, checks, cfg.eval_samples, seconds_per_step(trainer),
                     check_cost(trainer) if checks else None, cfg.batch_size, machine, stand_in)


def _batches(cfg: TrainConfig) -> tuple[Batches, int, str]:
    """The batches to time the step on, the steps of an epoch, and, where the data is not here yet (MNIST-format
    data the run downloads first: a dry run downloads nothing), what stands in for it."""
    spec = IDX_DATASETS.get(cfg.dataset)
    if spec is None or locate_dataset(spec, Path(cfg.data_dir)) is not None:
        batches, _ = training_batches(cfg)
        return batches, batches.batches_per_epoch, ""
    images = spec.files["train-labels"].size - IDX_LABELS_HEADER  # one byte a label
    rng = np.random.default_rng(cfg.seed)
    timed = TIMED_STEPS * cfg.batch_size
    stand_in = ImageBatches(rng.integers(0, 256, (timed, cfg.image_size, cfg.image_size), np.uint8), cfg.batch_size,
                            cfg.channels, cfg.seed, rng.integers(0, CLASSES, timed))
    return stand_in, images // cfg.batch_size, (f"{spec.name} is not in {cfg.data_dir} yet (the run downloads it "
                                                "first): its steps timed on random images of its size")


def checks_run(cfg: TrainConfig) -> bool:
    """Whether ``cfg``'s run makes quality checks (a run of other data than MNIST needs the Inception weights)."""
    choice = EvaluatorChoice(cfg.dataset, cfg.image_size, cfg.channels)
    return bool(cfg.eval_every) and (not choice.inception or inception_weights_found())


def seconds_per_step(trainer: Trainer) -> float:
    """The median time of a training step on the trainer's batches, with the moving average's update, leaving
    out the first step."""
    cfg = trainer.cfg
    ema = GeneratorEMA(trainer.gan.modG, cfg.ema_decay) if cfg.ema_decay else None
    times = []
    for real in islice(_endless(trainer.batches), TIMED_STEPS):
        began = time.perf_counter()
        trainer.run_step(real)
        if ema is not None:
            ema.update()
            mx.nd.waitall()
        times.append(time.perf_counter() - began)
    return statistics.median(times[1:])


def check_cost(trainer: Trainer) -> CheckCost:
    """A quality check's time, from one batch of the trainer's G drawn and one batch measured, each timed warm
    (the first of each loads its network), then scaled to the check's samples."""
    cfg = trainer.cfg
    evaluator = make_evaluator(EvaluatorChoice(cfg.dataset, cfg.image_size, cfg.channels), cfg, None,
                               contexts=trainer.contexts, reference_images=TRAINING_REFERENCE_IMAGES)
    drawn = min(cfg.eval_samples, DRAW_BATCH)
    z = noise(cfg.seed, drawn, cfg.nz, cfg.noise)
    digits = np.arange(drawn) % CLASSES if cfg.conditional else None
    images = generate_all(trainer.generator(), z, "eval", DRAW_BATCH, trainer.contexts, digits)
    draw = _seconds(lambda: generate_all(trainer.generator(), z, "eval", DRAW_BATCH, trainer.contexts, digits))
    measured = images[:min(drawn, evaluator.batch_size)]
    evaluator.features(measured)
    measure = _seconds(lambda: evaluator.features(measured))
    per_sample = draw / drawn + measure / len(measured)
    generators = 2 if cfg.ema_decay else 1  # the raw G, and the moving average that sample draws
    return CheckCost(generators * per_sample * cfg.eval_samples, measure / len(measured) * evaluator.reference_count)


def _seconds(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def _endless(batches: Batches) -> Iterator[np.ndarray]:
    """Batches of one epoch after another (a small folder may have fewer batches than are timed)."""
    for epoch in count():
        yield from batches.epoch(epoch)
