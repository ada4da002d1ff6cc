"""What a training run depends on: :class:`TrainConfig`, each field declared once with its flag's help,
choices, range and ``--resume`` behaviour (field metadata), and the recipes that set its training defaults.

The command line (:mod:`mxgan.flags`) derives the ``train`` flags, their validation and
``--resume``'s overrides from these declarations; the library reads the dataclass alone.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, Field, asdict, dataclass, field, fields
from typing import Any

from mxgan.constants import DATASETS, EVAL_SIZES, FEWEST_JUDGED, IMAGE_SIZES, NOISE_KINDS

# Training defaults a recipe sets; a flag given on the command line wins over its recipe.
# "example" is MXNet's example/gan/dcgan.py exactly; "default" departs from it where
# bench/README.md ("Choosing the default recipe") measured a gain. channels None: the data's own.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {"channels": None, "batch_size": 64, "lr_g": 4e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 2, "ema_decay": 0.999},
    "example": {"channels": 3, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 1, "ema_decay": 0.0},
}


@dataclass(frozen=True)
class Range:
    """The values a number may take: ``low`` < or <= value < or <= ``high`` (None: unbounded), finite."""

    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    hint: str = ""

    def holds(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        above = self.low is None or (value > self.low if self.low_open else value >= self.low)
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below

    def describe(self) -> str:
        if self.high is None:
            return "positive" if self.low_open and self.low == 0 else f"{self.low:g} or more"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{self.low:g}, {self.high:g}{right}"


POSITIVE = Range(0, low_open=True)
COUNT = Range(0)  # 0 or more
UNIT = Range(0, 1, high_open=True)  # [0, 1)


def option(default: Any, help: str, *, choices: tuple | None = None, bounds: Range | None = None,
           resume: bool = False, recipe: bool = False, flag: str | None = None, metavar: str | None = None,
           cli: bool = True) -> Any:
    """A :class:`TrainConfig` field and its ``train`` flag, declared together.

    ``resume``: ``--resume`` may change it (else the run's own value is kept); ``recipe``: its default
    comes from ``--recipe``; ``flag``: a switch's own spelling (``--no-progress``); ``cli`` False: no flag.
    """
    return field(default=default, metadata={"help": help, "choices": choices, "bounds": bounds, "resume": resume,
                                            "recipe": recipe, "flag": flag, "metavar": metavar, "cli": cli})


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``run.json`` in the run folder."""

    recipe: str = option("default", "training defaults: default (measured in bench/README.md) or example (MXNet's "
                         "example/gan exactly: 3 channels, its Adam, 1 G update per step, no EMA); flags given "
                         "explicitly override either", choices=tuple(RECIPES))
    dataset: str = option("mnist", "training images: mnist, fashion-mnist, folder (of pictures), rec (from mxgan "
                          "pack) or synthetic (random, for smoke runs)", choices=DATASETS)
    data_dir: str = option("", "mnist/fashion-mnist: the folder holding <dataset>/ (default: $MXGAN_DATA_DIR, else "
                           "./data); folder: the folder of pictures; rec: the .rec file (--resume: where the run's "
                           "images are now, if they moved)", resume=True)
    out: str = option("", "run folder for checkpoints, samples and metrics (default: runs/<dataset>-<timestamp>)")
    ctx: str = option("cpu", "devices: cpu, gpu0, gpu0,gpu1 or cpu0,cpu1 (the batch is split across them)",
                      resume=True)
    image_size: int = option(64, "image side in pixels (28x28 inputs are resized)", choices=IMAGE_SIZES)
    channels: int = option(3, "image channels (default: the data's own, 1 for mnist and fashion-mnist; --recipe "
                           "example: 3, gray tiled to RGB as the example does)", choices=(1, 3), recipe=True)
    batch_size: int = option(64, "images per step", bounds=POSITIVE, recipe=True)
    nz: int = option(100, "latent vector length", bounds=POSITIVE)
    ngf: int = option(64, "generator width", bounds=POSITIVE)
    ndf: int = option(64, "discriminator width", bounds=POSITIVE)
    lr_g: float = option(2e-4, "G's Adam learning rate (default: --lr, else the recipe's)", bounds=POSITIVE,
                         recipe=True)
    lr_d: float = option(2e-4, "D's Adam learning rate (default: --lr, else the recipe's)", bounds=POSITIVE,
                         recipe=True)
    beta1: float = option(0.5, "Adam beta1", bounds=UNIT, recipe=True)
    beta2: float = option(0.999, "Adam beta2", bounds=UNIT, recipe=True)
    wd: float = option(0.0, "weight decay", bounds=COUNT)
    init_sigma: float = option(0.02, "std of the Normal weight initializer", bounds=POSITIVE)
    epochs: int = option(25, "passes over the dataset", bounds=POSITIVE, resume=True)
    max_steps: int = option(0, "stop after this many steps (0: no limit)", bounds=COUNT, resume=True)
    seed: int = option(0, "seed for weights, noise and data order (a CPU run repeats exactly)", bounds=COUNT)
    log_every: int = option(10, "steps between metrics lines in metrics.jsonl", bounds=POSITIVE, resume=True)
    sample_every: int = option(200, "steps between fixed-noise sample grids (0: end of epoch only)", bounds=COUNT,
                               resume=True)
    progress: bool = option(True, "no progress bar (metrics still go to metrics.jsonl)", resume=True,
                            flag="--no-progress")
    status_every: float = option(60.0, "--no-progress: seconds between plain status lines (step, rate, time "
                                 "left, FID-MNIST; 0: none)", bounds=COUNT, resume=True)
    eval_every: float = option(1.0, "epochs between quality checks of MNIST generators (FID-MNIST, digit "
                               "histogram), fractions too: 0.25 checks four times an epoch, each with a "
                               "checkpoint (0: off)", bounds=COUNT, resume=True)
    until_fid: float = option(0.0, "stop, with a checkpoint, at the first quality check whose FID-MNIST (of the "
                              "weights sample draws: the moving average where kept) is this or lower (0: never)",
                              bounds=COUNT, resume=True, metavar="FID")
    eval_samples: int = option(2000, "samples judged at each quality check", resume=True, bounds=Range(
        FEWEST_JUDGED, hint=" (a Frechet distance and the neighbourhood metrics need a sample of some size)"))
    real_label: float = option(1.0, "D's target for real images; 0.9 is one-sided label smoothing (G still aims at "
                               "1)", bounds=Range(0, 1, low_open=True, hint=" (0.9 is the usual smoothing)"))
    noise: str = option("normal", "z ~ N(0, 1) (the example's) or U(-1, 1)", choices=NOISE_KINDS)
    d_steps: int = option(1, "D updates per G update (each on its own real batch)", bounds=POSITIVE)
    g_steps: int = option(1, "G updates after each G turn, each on a fresh z", bounds=POSITIVE, recipe=True)
    pretrain_d: int = option(0, "steps at the start in which only D is trained", bounds=COUNT)
    ema_decay: float = option(0.0, "keep an exponential moving average of G's weights with this decay, ramped up "
                              "early on, saved as <dataset>_G_ema-NNNN.params and used for samples (0: off)",
                              bounds=Range(0, 1, high_open=True, hint=" (0 turns the EMA off; 0.999 is usual)"),
                              recipe=True)
    rand_crop: bool = option(True, "rec: crop a random 75-100%% square of each image, as the example (else the "
                             "whole image)")
    rand_mirror: bool = option(True, "rec: flip half the images left-right, as the example")
    kvstore: str = option("local", "how devices and workers share gradients: local, device, dist_sync or "
                          "dist_async (dist_*: start the processes with mxgan launch)", resume=True)
    dist_timeout: float = option(120.0, "dist_*: seconds a worker waits for a step before it decides another "
                                 "process died and stops", bounds=POSITIVE, resume=True)
    conditional: bool = option(False, "cDCGAN: G and D also see the digit (mnist, fashion-mnist); sample --digit 7 "
                               "then draws sevens")
    tensorboard: str = option("", "also log scalars and sample grids for TensorBoard into DIR (the tensorboard "
                              "extra)", metavar="DIR", resume=True)
    dtype: str = option("float32", "float16 (GPU only): half-precision weights and activations, Adam on float32 "
                        "master copies", choices=("float32", "float16"))
    cudnn_tune: str = option("", "cuDNN convolution algorithm search (GPU only; default: MXNet's, "
                             "limited_workspace)", choices=("off", "limited_workspace", "fastest"))
    checkpoint: str = option("", "start from this generator checkpoint (a file, a prefix or a run folder; 4 "
                             "formats; RUN_DIR:best)")
    discriminator: str = option("", "start D from this checkpoint (Module or Gluon files; default: the D file beside "
                                "--checkpoint's G, if any)")
    checkpoint_every: int = option(0, "steps between extra checkpoints within an epoch (0: at epoch ends only)",
                                   bounds=COUNT, resume=True)
    keep: int = option(0, "keep only the newest N checkpoints, and the best (0: keep all)", bounds=COUNT,
                       resume=True)
    resume: str = option("", "continue a run exactly where its last checkpoint left it, with its own options",
                         metavar="RUN_DIR")
    allow_data_change: bool = option(False, "--resume: continue although the run's data changed since the "
                                     "checkpoint (its saved position then means other batches)", resume=True)
    # False when --checkpoint's generator (--discriminator's D) learned its BatchNorm gamma (Gluon)
    g_fix_gamma: bool = option(True, "", cli=False)
    d_fix_gamma: bool = option(True, "", cli=False)

    def to_json(self) -> dict:
        return asdict(self)

    @property
    def quality_checked(self) -> bool:
        """Whether the run judges its generator as it trains (MNIST, a size the classifier takes)."""
        return self.eval_every > 0 and self.dataset == "mnist" and self.image_size in EVAL_SIZES


def config_fields() -> list[Field]:
    """The fields of :class:`TrainConfig` that are ``train`` flags, in declaration order."""
    return [f for f in fields(TrainConfig) if f.metadata.get("cli", True)]


def field_default(f: Field) -> Any:
    return f.default if f.default is not MISSING else None


# The options a --resume may change; all others come from the run's run.json.
RESUME_OVERRIDES = tuple(f.name for f in config_fields() if f.metadata["resume"])
