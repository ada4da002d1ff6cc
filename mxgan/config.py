"""Every option of mxgan, declared once: default, help, choices, range and ``--resume`` behaviour together.

- :class:`TrainConfig`: a training run, saved as ``run.json``; the training defaults of its ``recipe`` are
  resolved inside it, so ``TrainConfig(dataset="mnist")`` is the default recipe's run, as the command's is.
- :class:`SampleConfig`, :class:`BenchConfig`: what ``mxgan sample`` and ``mxgan bench`` do.
- Options several commands share (:data:`CTX`, :data:`SEED`, :data:`DATA_DIR`, :data:`PROGRESS`,
  :func:`batch_size`) are declared here once, and each command uses that declaration.
- :func:`load_run_options`: a run folder's ``run.json``, checked as the flags are.

The command line (:mod:`mxgan.commands`) derives its flags and their checks from these declarations;
this module imports no MXNet.
"""

from __future__ import annotations

import math
import os
import typing
from dataclasses import Field, asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from mxgan.constants import (
    BN_MODES,
    CLASSES,
    DATASET_CHANNELS,
    DATASETS,
    DTYPES,
    FEWEST_MEASURED,
    IMAGE_SIZES,
    KVSTORES,
    NOISE_KINDS,
    RUN_OPTIONS_FILE,
    WEIGHTS,
)
from mxgan.errors import MxganError
from mxgan.jsontext import read_json

# Training defaults a recipe sets; an option given explicitly wins over its recipe.
# "example" is MXNet's example/gan/dcgan.py exactly; "default" departs from it where
# bench/README.md ("Choosing the default recipe") measured a gain. channels None: the data's own.
RECIPES: dict[str, dict[str, Any]] = {
    "default": {"channels": None, "batch_size": 64, "lr_g": 8e-4, "lr_d": 4e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 2, "ema_decay": 0.999},
    "example": {"channels": 3, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 1, "ema_decay": 0.0},
}
# --conditional under the default recipe keeps the rates before they were doubled: doubled, the conditional
# model's raw weights collapsed in its second epoch at 64 px (bench/README.md, "Time to a good model")
CONDITIONAL_RATES = {"lr_g": 4e-4, "lr_d": 2e-4}


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
            return "positive" if self.low_open and self.low == 0 else f"{_shown(self.low)} or more"
        left, right = "(" if self.low_open else "[", ")" if self.high_open else "]"
        return f"in {left}{_shown(self.low)}, {_shown(self.high)}{right}"


def _shown(bound: float | None) -> str:
    """A bound as people write it: whole numbers in full (1000000, not 1e+06)."""
    if isinstance(bound, int) or (isinstance(bound, float) and bound.is_integer() and abs(bound) < 1e15):
        return str(int(bound))
    return f"{bound:g}"


POSITIVE = Range(0, low_open=True)
LEARNING_RATE = Range(0, 1e30, low_open=True)  # MXNet's Adam takes the rate as a float32: far above any sane rate
MAX_SAMPLES = 100_000  # images sample and eval hold at once (64 px RGB: 5 GB as float32)
MOST_EPOCHS = 10**6  # far beyond any run; a float of epochs times steps stays exact below it
COUNT = Range(0)  # 0 or more
UNIT = Range(0, 1, high_open=True)  # [0, 1)


@dataclass(frozen=True)
class Option:
    """One option: what its flag says and takes, and what ``--resume`` may do with it.

    ``recipe``: its default comes from the run's recipe; ``resume``: ``--resume`` may change it (else the
    run's own value is kept); ``spelling``: a switch's own flag (``--no-progress``); ``cli`` False: no flag;
    ``positional``: an argument without a flag, named by its ``metavar`` (a list: the rest of the command line).
    """

    help: str
    default: Any = None
    choices: tuple | None = None
    bounds: Range | None = None
    resume: bool = False
    recipe: bool = False
    spelling: str | None = None
    metavar: str | None = None
    cli: bool = True
    required: bool = False  # the command cannot run without it
    positional: bool = False
    named: bool = False  # a place whose default comes from leaving the flag out: given, it may not be empty

    def flag(self, name: str) -> str:
        if self.positional:
            return self.metavar or name
        return self.spelling or "--" + name.replace("_", "-")

    def check(self, name: str, value: Any, unset_ok: bool = True) -> None:
        """One :class:`MxganError` naming the flag when ``value`` (each of them, for a list) is not one of its
        choices or out of range (``unset_ok``: "" or None, "not given", passes, unless the option is needed)."""
        if isinstance(value, list):
            for each in value:
                self.check(name, each, unset_ok)
            return
        if unset_ok and value in ("", None) and not (self.required or self.positional):
            return
        if self.choices is not None and value not in self.choices:
            raise MxganError(f"{self.flag(name)} {value!r} is not one of {', '.join(map(str, self.choices))}")
        if self.bounds is not None and not self.bounds.holds(value):
            raise MxganError(f"{self.flag(name)} must be {self.bounds.describe()}, got {value}{self.bounds.hint}")


def declared(option: Option, **changes: Any) -> Any:
    """A dataclass field carrying ``option`` (with ``changes``: the same option, as one command takes it)."""
    option = replace(option, **changes) if changes else option
    if isinstance(option.default, list):  # each instance its own list
        return field(default_factory=lambda: list(option.default), metadata={"option": option})
    return field(default=option.default, metadata={"option": option})


def option_of(f: Field) -> Option:
    return f.metadata["option"]


def options(config: type) -> list[tuple[str, Option]]:
    """``(name, option)`` of each field of a config dataclass that is a flag, in declaration order."""
    return [(f.name, option_of(f)) for f in fields(config) if option_of(f).cli]


def check_options(config: Any) -> None:
    """Every option of a config instance within its choices and range; one :class:`MxganError` naming the flag."""
    for name, option in options(type(config)):
        option.check(name, getattr(config, name))


def check_fields(config: Any, names: list[str] | None = None) -> None:
    """Each field of a config instance (``names``: only these): :func:`check_values`."""
    check_values(type(config), {f.name: getattr(config, f.name) for f in fields(config)
                                if names is None or f.name in names})


def check_values(config: type, values: dict[str, Any], where: str = "") -> None:
    """Values for fields of a config dataclass, each of its field's declared type, then within its choices and
    range: one :class:`MxganError` naming the field (a wrong type) or the flag (a value out of range); ``where``:
    the file the values come from (the error then begins with it and the field)."""
    kinds, declared_options = field_types(config), {f.name: option_of(f) for f in fields(config)}
    for name, value in values.items():
        named = f"{where}'s {name}" if where else f"{config.__name__}.{name}"
        _check_type(named, value, kinds[name])
        option = declared_options[name]
        try:
            option.check(name, value, unset_ok=option.default in ("", None))  # "" stands for a default only
        except MxganError as exc:
            if not where:
                raise
            raise MxganError(f"{named}: {exc}") from exc


def _check_type(named: str, value: Any, kind: Any) -> None:
    if not _of_type(value, kind):
        raise MxganError(f"{named} must be {expected(kind)}, got {value!r} ({type(value).__name__})")


def check_argument(name: str, value: Any, kind: Any, option: Option | None = None) -> None:
    """An argument of the Python API of type ``kind`` (within ``option``'s choices and range, if given): one
    :class:`MxganError` naming the argument."""
    _check_type(name, value, kind)
    if option is not None:
        replace(option, spelling=name).check(name, value, unset_ok=False)


def declaration(config: type, name: str) -> Option:
    """The option field ``name`` of a config dataclass declares (for an API argument that means the same)."""
    return next(option_of(f) for f in fields(config) if f.name == name)


_FIELD_TYPES: dict[type, dict[str, Any]] = {}


def field_types(config: type) -> dict[str, Any]:
    """``{field: type}`` of a config dataclass (its annotations are strings until resolved, once)."""
    if config not in _FIELD_TYPES:
        _FIELD_TYPES[config] = typing.get_type_hints(config)
    return _FIELD_TYPES[config]


def _paths_as_strings(config: Any) -> None:
    """A :class:`pathlib.Path` given for a string field (a folder, a file) as its string, as run.json keeps it."""
    kinds = field_types(type(config))
    for f in fields(config):
        value = getattr(config, f.name)
        if kinds[f.name] is str and isinstance(value, os.PathLike):
            setattr(config, f.name, os.fspath(value))


def check_config(config: Any) -> None:
    """A config dataclass's ``__post_init__`` (no recipe): paths as strings, then every field checked."""
    _paths_as_strings(config)
    check_fields(config)


# --- options several commands share: declared once ---------------------------------------------------------
CTX = Option("devices: cpu, gpu0, gpu0,gpu1 or cpu0,cpu1 (the batch is split across them)", "cpu")
SEED = Option("seed of every random draw (a CPU run repeats exactly)", 0, bounds=COUNT)
DATA_DIR = Option("the folder holding mnist/ (or fashion-mnist/) (default: $MXGAN_DATA_DIR, else ./data)", "",
                  named=True)
PROGRESS = Option("no progress bar", True, spelling="--no-progress")
NOISE = Option("z ~ N(0, 1) (the example's) or U(-1, 1)", "normal", choices=NOISE_KINDS)
# the generator of sample, eval and export
CHECKPOINT = Option("generator checkpoint: a file, a prefix or a run folder, in any of the 4 formats; RUN_DIR:best "
                    "is a run's evaluated checkpoint with the lowest FID-MNIST", "", required=True)
WEIGHTS_OPTION = Option("raw: G's weights at the checkpoint; ema: their moving average (--ema-decay runs; default: "
                        "ema where a run folder has it, else the file given)", "", choices=WEIGHTS)
DTYPE = Option("arithmetic: float32; bfloat16 (CPUs with AMX): D's convolutions in bfloat16 on float32 weights, "
               "G in float32; auto: bfloat16 where AMX is granted and measured no worse, else float32; float16 "
               "(GPU only): half-precision weights and activations, Adam on float32 master copies", "float32",
               choices=DTYPES)
MOST_RECALIBRATION_BATCHES = 1000  # the moving statistics settle within tens of batches; more is only waiting
RECALIBRATE_BN = Option("re-estimate BatchNorm's moving statistics over K training-mode batches of fresh z first "
                        "(precise BN; 0: use the saved ones)", 0, bounds=Range(0, MOST_RECALIBRATION_BATCHES),
                        metavar="K")


def batch_size(what: str, default: int | list[int] | None) -> Option:
    """``--batch-size``: how many images ``what`` (a step, a forward pass) takes at once."""
    return Option(f"images per {what}", default, bounds=POSITIVE)


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``run.json`` in the run folder.

    An option left at None is the ``recipe``'s (``channels``: the data's own, for the default recipe).
    """

    recipe: str = declared(Option("training defaults: default (measured in bench/README.md) or example (MXNet's "
                                  "example/gan exactly: 3 channels, its Adam, 1 G update per step, no EMA); options "
                                  "given explicitly override either", "default", choices=tuple(RECIPES)))
    dataset: str = declared(Option("training images: mnist, fashion-mnist, folder (of pictures), rec (from mxgan "
                                   "pack) or synthetic (random, for smoke runs)", "mnist", choices=DATASETS))
    data_dir: str = declared(DATA_DIR, help="mnist/fashion-mnist: the folder holding <dataset>/ (default: "
                             "$MXGAN_DATA_DIR, else ./data); folder: the folder of pictures; rec: the .rec file "
                             "(--resume: where the run's images are now, if they moved)", resume=True)
    out: str = declared(Option("run folder for checkpoints, samples and metrics (default: "
                               "runs/<dataset>-<timestamp>)", "", named=True))
    ctx: str = declared(CTX, resume=True)
    image_size: int = declared(Option("image side in pixels (28x28 inputs are resized)", 64, choices=IMAGE_SIZES))
    channels: int = declared(Option("image channels (default: the data's own, 1 for mnist and fashion-mnist; "
                                    "--recipe example: 3, gray tiled to RGB as the example does)", choices=(1, 3),
                                    recipe=True))
    batch_size: int = declared(batch_size("step", None), recipe=True)
    nz: int = declared(Option("latent vector length", 100, bounds=POSITIVE))
    ngf: int = declared(Option("generator width", 64, bounds=POSITIVE))
    ndf: int = declared(Option("discriminator width", 64, bounds=POSITIVE))
    lr_g: float = declared(Option("G's Adam learning rate (default: --lr, else the recipe's; the default recipe "
                                  "with --conditional: 4e-4)", bounds=LEARNING_RATE, recipe=True))
    lr_d: float = declared(Option("D's Adam learning rate (default: --lr, else the recipe's; the default recipe "
                                  "with --conditional: 2e-4)", bounds=LEARNING_RATE, recipe=True))
    beta1: float = declared(Option("Adam beta1", bounds=UNIT, recipe=True))
    beta2: float = declared(Option("Adam beta2", bounds=UNIT, recipe=True))
    wd: float = declared(Option("weight decay", 0.0, bounds=COUNT))
    init_sigma: float = declared(Option("std of the Normal weight initializer", 0.02, bounds=POSITIVE))
    epochs: int = declared(Option("passes over the dataset", 25, resume=True, bounds=Range(
        0, MOST_EPOCHS, low_open=True, hint=" (a forecast of a longer run overflows the calendar)")))
    max_steps: int = declared(Option("stop after this many steps (0: no limit)", 0, bounds=COUNT, resume=True))
    seed: int = declared(SEED, help="seed for weights, noise and data order (a CPU run repeats exactly)")
    log_every: int = declared(Option("steps between metrics lines in metrics.jsonl", 10, bounds=POSITIVE,
                                     resume=True))
    sample_every: int = declared(Option("steps between fixed-noise sample grids (0: end of epoch only)", 200,
                                        bounds=COUNT, resume=True))
    progress: bool = declared(PROGRESS, help="no progress bar (a status line every --status-every seconds instead; "
                              "metrics still go to metrics.jsonl)", resume=True)
    status_every: float = declared(Option("--no-progress: seconds between plain status lines (step, rate, time "
                                          "left, FID-MNIST; 0: none)", 60.0, bounds=COUNT, resume=True))
    eval_every: float = declared(Option("epochs between quality checks, fractions too: 0.25 checks four times an "
                                        "epoch, each with a checkpoint (0: off); MNIST generators: FID-MNIST and "
                                        "the digit histogram, seconds each; any other data: Inception FID and KID, "
                                        "minutes each on a CPU (default: 1 for mnist or with --until-fid, else 0)",
                                        resume=True, recipe=True, bounds=Range(0, MOST_EPOCHS)))
    until_fid: float = declared(Option("stop, with a checkpoint, at the first quality check whose FID-MNIST (of "
                                       "the weights sample draws: the moving average where kept) is this or lower "
                                       "(0: never)", 0.0, bounds=COUNT, resume=True, metavar="FID"))
    eval_samples: int = declared(Option("samples measured at each quality check", 2000, resume=True, bounds=Range(
        FEWEST_MEASURED, MAX_SAMPLES, hint=" (a Frechet distance and the neighbourhood metrics need a sample of "
                                           "some size)")))
    real_label: float = declared(Option("D's target for real images; 0.9 is one-sided label smoothing (G still "
                                        "aims at 1)", 1.0,
                                        bounds=Range(0, 1, low_open=True, hint=" (0.9 is the usual smoothing)")))
    noise: str = declared(NOISE)
    d_steps: int = declared(Option("D updates per G update (each on its own real batch)", 1, bounds=POSITIVE))
    g_steps: int = declared(Option("G updates after each G turn, each on a fresh z", bounds=POSITIVE, recipe=True))
    pretrain_d: int = declared(Option("steps at the start in which only D is trained", 0, bounds=COUNT))
    ema_decay: float = declared(Option("keep an exponential moving average of G's weights with this decay, ramped "
                                       "up early on, saved as <dataset>_G_ema-NNNN.params and used for samples "
                                       "(0: off)", recipe=True, bounds=Range(0, 1, high_open=True,
                                                                             hint=" (0 turns the EMA off; 0.999 is "
                                                                                  "usual)")))
    rand_crop: bool = declared(Option("rec: crop a random 75-100%% square of each image, as the example (else the "
                                      "whole image)", True))
    rand_mirror: bool = declared(Option("rec: flip half the images left-right, as the example", True))
    kvstore: str = declared(Option("how devices and workers share gradients (dist_*: start the processes with "
                                   "mxgan launch)", "local", choices=KVSTORES, resume=True))
    dist_timeout: float = declared(Option("dist_*: seconds a worker waits for a step before it decides another "
                                          "process died and stops", 120.0, bounds=POSITIVE, resume=True))
    conditional: bool = declared(Option("cDCGAN: G and D also see the digit (mnist, fashion-mnist); sample --digit "
                                        "7 then draws sevens", False))
    tensorboard: str = declared(Option("also log scalars and sample grids for TensorBoard into DIR (the "
                                       "tensorboard extra)", "", metavar="DIR", resume=True))
    dtype: str = declared(DTYPE)
    cudnn_tune: str = declared(Option("cuDNN convolution algorithm search (GPU only; default: MXNet's, "
                                      "limited_workspace)", "", choices=("off", "limited_workspace", "fastest")))
    checkpoint: str = declared(Option("start from this generator checkpoint (a file, a prefix or a run folder; 4 "
                                      "formats; RUN_DIR:best)", ""))
    discriminator: str = declared(Option("start D from this checkpoint (Module or Gluon files; default: the D file "
                                         "beside --checkpoint's G, if any)", ""))
    checkpoint_every: int = declared(Option("steps between extra checkpoints within an epoch (0: at epoch ends "
                                            "only)", 0, bounds=COUNT, resume=True))
    keep: int = declared(Option("keep only the newest N checkpoints, and the best (0: keep all)", 0, bounds=COUNT,
                                resume=True))
    resume: str = declared(Option("continue a run exactly where its last checkpoint left it, with its own options",
                                  "", metavar="RUN_DIR"))
    allow_data_change: bool = declared(Option("--resume: continue although the run's data changed since the "
                                              "checkpoint (its saved position then means other batches)", False,
                                              resume=True))
    # False when --checkpoint's generator (--discriminator's D) learned its BatchNorm gamma (Gluon)
    g_fix_gamma: bool = declared(Option("", True, cli=False))
    d_fix_gamma: bool = declared(Option("", True, cli=False))

    def __post_init__(self) -> None:
        # what was given is checked before the recipe reads it; what the recipe filled in, after
        _paths_as_strings(self)
        from_recipe = [f.name for f in fields(self) if option_of(f).recipe and getattr(self, f.name) is None]
        check_fields(self, [f.name for f in fields(self) if f.name not in from_recipe])
        recipe = RECIPES[self.recipe]
        if self.conditional and self.recipe == "default":
            recipe = {**recipe, **CONDITIONAL_RATES}
        for name, value in recipe.items():
            if getattr(self, name) is None:
                setattr(self, name, DATASET_CHANNELS.get(self.dataset, 3) if value is None else value)
        if self.eval_every is None:  # FID-MNIST takes seconds; the Inception network minutes on a CPU
            self.eval_every = 1.0 if self.dataset == "mnist" or self.until_fid else 0.0
        check_fields(self, from_recipe)

    def to_json(self) -> dict:
        return asdict(self)


# The options a --resume may change; all others come from the run's run.json.
RESUME_OVERRIDES = tuple(name for name, option in options(TrainConfig) if option.resume)
# what every run.json mxgan ever wrote holds; newer options missing from an older run's take their defaults
RUN_ESSENTIALS = ("dataset", "data_dir", "image_size", "channels", "batch_size", "nz", "ngf", "ndf", "seed", "epochs")


def load_run_options(run: Path, flag: str = "--resume") -> TrainConfig | None:
    """A run folder's ``run.json`` as a :class:`TrainConfig` (None when the folder has none), each value checked
    as its flag is: a wrong type, a value out of range or a missing option is one :class:`MxganError` naming
    the field (``flag``: the option that named the folder)."""
    path = Path(run) / RUN_OPTIONS_FILE
    try:
        saved = read_json(path)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise MxganError(f"{flag} {run}: {RUN_OPTIONS_FILE} is damaged ({exc})") from exc
    return run_options_from(saved, f"{flag} {run}: {RUN_OPTIONS_FILE}")


def run_options_from(saved: object, where: str) -> TrainConfig:
    """Saved options (a run.json's content, or state.json's copy of it) as a :class:`TrainConfig`, checked as
    :func:`load_run_options` says; errors begin with ``where`` (the flag, the folder and the file)."""
    if not isinstance(saved, dict):
        raise MxganError(f"{where} is damaged (not a JSON object)")
    if "lr" in saved:  # written before G and D had a learning rate each
        saved.setdefault("lr_g", saved["lr"])
        saved.setdefault("lr_d", saved["lr"])
    missing = [name for name in RUN_ESSENTIALS if name not in saved]
    if missing:
        raise MxganError(f"{where} is damaged (it lacks {', '.join(missing)})")
    values = {f.name: saved[f.name] for f in fields(TrainConfig) if f.name in saved}
    check_values(TrainConfig, values, where)  # as the flags are, the error naming the file
    return TrainConfig(**values)


def _of_type(value: Any, kind: Any) -> bool:
    """Whether a value (from JSON or Python) has a field's type: a bool is no number, an int stands for a float."""
    if typing.get_origin(kind) is list:
        return isinstance(value, list) and all(_of_type(each, typing.get_args(kind)[0]) for each in value)
    if kind is bool:
        return isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def expected(kind: Any) -> str:
    """What a value of type ``kind`` is, in words."""
    if typing.get_origin(kind) is list:
        return f"a list of {expected(typing.get_args(kind)[0]).removeprefix('a ')}s"
    return {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "a string")


NICE_OVERSAMPLING = 20  # sample --nice draws this many times more and keeps the ones D likes best
MEASURED = Option("samples to measure", 10000, bounds=Range(FEWEST_MEASURED, MAX_SAMPLES, hint=" (a Frechet distance "
                  "and the neighbourhood metrics need a sample of some size; all are held in memory)"))


@dataclass
class GeneratorOptions:
    """The generator ``sample``, ``eval`` and ``export`` take: which checkpoint, which of its weights, and whether
    its BatchNorm statistics are estimated again."""

    checkpoint: str = declared(CHECKPOINT)
    weights: str = declared(WEIGHTS_OPTION)
    recalibrate_bn: int = declared(RECALIBRATE_BN)


@dataclass
class SampleConfig(GeneratorOptions):
    """What ``mxgan sample`` draws (:func:`mxgan.inference.sampling.draw_samples`) and where it writes it."""

    num: int = declared(Option("images to draw", 64, bounds=Range(1, MAX_SAMPLES, hint=" (they are held in memory "
                                                                                     "at once)")))
    out: str = declared(Option("grid PNG to write", "samples.png"))
    seed: int = declared(SEED, help="seed of the latent vectors")
    npy: str = declared(Option("also save the images, (num, C, S, S) float32 in [-1, 1], as .npy", ""))
    separate: str = declared(Option("also write one PNG per image into DIR (a new or empty folder)", "",
                                    metavar="DIR"))
    bn: str = declared(Option("BatchNorm statistics: eval = moving (an image depends only on its z), train = this "
                              "batch's", "eval", choices=BN_MODES))
    nice: bool = declared(Option(f"draw {NICE_OVERSAMPLING}x more and keep those the discriminator scores highest "
                                 "(needs D)", False))
    discriminator: str = declared(Option("D checkpoint for --nice, Module or Gluon (default: the D file beside G)",
                                         ""))
    interpolate: int = declared(Option("K rows, each a slerp walk between two random latent points", 0,
                                       bounds=COUNT, metavar="K"))
    ctx: str = declared(CTX, help="device: cpu or gpu0")
    batch_size: int = declared(batch_size("forward pass", 64))
    noise: str = declared(NOISE, default="", help="latent distribution (default: the run's, from run.json beside "
                          "the checkpoint, else normal)")
    digit: str = declared(Option("conditional models: draw this digit (0-9), or 'all' for a row per digit", "",
                                 choices=("all", *map(str, range(CLASSES))), metavar="DIGIT"))

    def __post_init__(self) -> None:
        check_config(self)


@dataclass
class BenchConfig:
    """What ``mxgan bench`` (``bench/throughput.py``) measures."""

    ctx: str = declared(CTX, help="device: cpu or gpu0")
    batch_sizes: list[int] = declared(batch_size("step", [64]), help="one or more batch sizes", spelling="--batch-size")
    image_size: int = declared(declaration(TrainConfig, "image_size"), help="image side")
    channels: int = declared(declaration(TrainConfig, "channels"), help="image channels", default=3, recipe=False)
    nz: int = declared(declaration(TrainConfig, "nz"))
    ngf: int = declared(declaration(TrainConfig, "ngf"))
    ndf: int = declared(declaration(TrainConfig, "ndf"))
    repeats: int = declared(Option("timed blocks per measurement (the median is reported)", 5, bounds=POSITIVE))
    steps: int = declared(Option("steps (or forward passes) per timed block", 3, bounds=POSITIVE))
    compare: str = declared(Option("also time PyTorch's DCGAN example, same sizes, each variant in a process of its "
                                   "own", "", choices=("torch",)))
    data_dir: str = declared(DATA_DIR, help="folder holding mnist/ for the data-pipeline and memory figures "
                             "(default: $MXGAN_DATA_DIR, else ./data)")
    rss_steps: int = declared(Option("steps of the MNIST training run whose peak memory is reported (0: skip)", 20,
                                     bounds=COUNT))
    # 2 cores: a 256 product reached 106 GFLOP/s, 512 143, 2048 173
    gemm_size: int = declared(Option("side of the float32 GEMM timed as the machine's peak (512 or more: a smaller "
                                     "product runs from the caches, mostly call overhead)", 4096, bounds=Range(
                                         512, hint=" (a smaller product runs from the caches, mostly call overhead: no "
                                                   "peak to compare the step with)")))
    variants: bool = declared(Option("also time the example's loop as written, each optimisation, and thread "
                                     "settings", False))
    g_steps: int = declared(declaration(TrainConfig, "g_steps"), help="G updates per step (the default recipe: 2; "
                            "PyTorch's example: 1)", default=1, recipe=False)
    dtype: str = declared(DTYPE, help="the step's arithmetic, as train's --dtype (bfloat16: PyTorch races under "
                          "autocast(bfloat16))")
    profile: bool = declared(Option("instead, where one training step's time goes: each operator's share of the "
                                    "step, and the (de)convolutions' speed against this machine's matrix product "
                                    "(oneDNN's own timings)", False))
