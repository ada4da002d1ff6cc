"""The command line's flags: each command's arguments and their validation, one error style.

The ``train`` flags are derived from :class:`mxgan.config.TrainConfig`'s field declarations; the other
commands declare theirs here. Every check raises one :class:`MxganError` line naming the flag,
before any work is done and before anything is written. Only :mod:`mxgan.cli` imports this module.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import socket
import time
import typing
from dataclasses import Field, dataclass, fields
from pathlib import Path
from typing import Any

import cv2

from mxgan.config import RECIPES, RESUME_OVERRIDES, TrainConfig, config_fields, field_default
from mxgan.constants import (
    CLASSIFIER_WEIGHTS,
    DATASET_CHANNELS,
    EVAL_SIZES,
    FEWEST_JUDGED,
    GRAY_DATASETS,
    IMAGE_SIZES,
    RUN_OPTIONS_FILE,
    STATE_FILE,
)
from mxgan.errors import MxganError
from mxgan.runtime.distributed import check_kvstore
from mxgan.runtime.fileio import LONGEST_INSIDE, check_name_fits, check_writable

WEIGHTS = ("raw", "ema")  # a run's generator weights: as trained, or their moving average
MAX_SAMPLES = 100_000  # images sample and eval hold at once (64 px RGB: 5 GB as float32)
MAX_PACK_SIDE = 2048  # mxgan pack: a 2048 px RGB picture is 12 MiB decoded; larger ones only cost memory and disk


def _flag(f: Field) -> str:
    return f.metadata.get("flag") or "--" + f.name.replace("_", "-")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` flags, one per :class:`TrainConfig` field, as the field declares it."""
    hints = typing.get_type_hints(TrainConfig)
    for f in config_fields():
        meta, kind = f.metadata, hints[f.name]
        help_text = meta["help"]
        if meta["recipe"] and "recipe" not in help_text:
            help_text += " (default: the recipe's)"
        if kind is bool:
            if meta["flag"]:  # a switch that turns a default-on option off
                parser.add_argument(meta["flag"], dest=f.name, action="store_const", const=False, default=None,
                                    help=help_text)
            elif f.default:
                parser.add_argument(_flag(f), action=argparse.BooleanOptionalAction, default=None, help=help_text)
            else:
                parser.add_argument(_flag(f), action="store_const", const=True, default=None, help=help_text)
            continue
        # no argparse default: None means "not given", so that --resume and --recipe know what was
        choices = meta["choices"] and "{" + ",".join(map(str, meta["choices"])) + "}"
        parser.add_argument(_flag(f), type=kind, default=None, metavar=meta["metavar"] or choices,
                            help=help_text + _default_note(f))
        if f.name == "lr_d":  # a shorthand for both learning rates, declared beside them
            parser.add_argument("--lr", type=float, default=None,
                                help="Adam learning rate of G and D (sets --lr-g and --lr-d)")
    parser.add_argument("--dry-run", action="store_true",
                        help="check the flags, print the resolved options and the run folder, and stop")


def _default_note(f: Field) -> str:
    if f.metadata["recipe"] or f.default in ("", None) or f.name == "recipe":
        return ""
    return f" (default: {f.default})"


def _check_value(f: Field, value: Any) -> None:
    """One field's declared choices and range."""
    meta, flag = f.metadata, _flag(f)
    if meta["choices"] is not None and value not in meta["choices"] and value not in ("", None):
        listed = ", ".join(map(str, meta["choices"]))
        raise MxganError(f"{flag} {value!r} is not one of {listed}")
    bounds = meta["bounds"]
    if bounds is not None and not bounds.holds(value):
        raise MxganError(f"{flag} must be {bounds.describe()}, got {value}{bounds.hint}")


def _given(args: argparse.Namespace) -> dict[str, Any]:
    """The train flags given on the command line (argparse's None: not given)."""
    return {f.name: getattr(args, f.name) for f in config_fields() if getattr(args, f.name) is not None}


def _resolve_recipe(args: argparse.Namespace, given: dict[str, Any]) -> dict[str, Any]:
    """Every option of a new run: given flags, then ``--recipe``'s values, then the declared defaults."""
    recipe = given.get("recipe", "default")
    if recipe not in RECIPES:
        raise MxganError(f"--recipe {recipe!r} is not one of {', '.join(RECIPES)}")
    if args.lr is not None:
        if not (args.lr > 0 and math.isfinite(args.lr)):
            raise MxganError(f"--lr must be positive, got {args.lr}")
        given = {"lr_g": args.lr, "lr_d": args.lr} | given
    values = {f.name: field_default(f) for f in config_fields()} | {"recipe": recipe}
    dataset = given.get("dataset", values["dataset"])
    for name, value in RECIPES[recipe].items():
        values[name] = DATASET_CHANNELS.get(dataset, 3) if value is None else value
    return values | given


def validate_train_args(args: argparse.Namespace) -> TrainConfig:
    """Turn parsed ``train`` flags into a :class:`TrainConfig`, or raise one clear :class:`MxganError`.

    Checks everything that can be checked before data is loaded or MXNet binds,
    and creates nothing: an existing run is never overwritten. ``--resume`` keeps
    the run's own options, except those of :data:`RESUME_OVERRIDES` given again.
    """
    given = _given(args)
    if args.resume:
        return _resume_config(args, given)
    values = _resolve_recipe(args, given)
    for f in config_fields():
        _check_value(f, values[f.name])
    _check_combinations(values)
    from mxgan.data.idx import default_data_dir

    values["data_dir"] = values["data_dir"] or str(default_data_dir())
    out = Path(values["out"] or Path("runs") / f"{values['dataset']}-{time.strftime('%Y%m%d-%H%M%S')}")
    values["out"] = str(out)
    check_name_fits(out, "--out", inside=LONGEST_INSIDE)
    if out.exists() and not out.is_dir():
        raise MxganError(f"--out {out} is a file; choose a folder for the run")
    from mxgan.checkpoints.run_folder import usable_checkpoint

    # a folder whose run died before its first complete checkpoint holds nothing to lose: the same command reuses it
    if usable_checkpoint(out):
        raise MxganError(f"--out {out} already holds a run; continue it with --resume {out}, or choose a new --out")
    check_writable(out)
    from mxgan.checkpoints.formats import resolve

    for flag, role in (("checkpoint", "G"), ("discriminator", "D")):
        if values[flag]:
            resolve(values[flag], role, flag=f"--{flag}")  # exists, or one clear error now
    return TrainConfig(**values)


def _check_combinations(values: dict[str, Any]) -> None:
    """The checks that involve more than one option, the devices or an installed extra."""
    dataset = values["dataset"]
    if values["conditional"] and dataset not in GRAY_DATASETS:
        raise MxganError(f"--conditional needs labelled data: --dataset mnist or fashion-mnist, not {dataset}")
    if dataset in ("folder", "rec") and not values["data_dir"]:
        what = "the folder of pictures" if dataset == "folder" else "the .rec file written by mxgan pack"
        raise MxganError(f"--dataset {dataset} needs --data-dir: {what}")
    if values["until_fid"]:
        if dataset != "mnist" or values["image_size"] not in EVAL_SIZES:
            raise MxganError("--until-fid needs the quality check of MNIST generators: --dataset mnist, "
                             f"--image-size {', '.join(map(str, EVAL_SIZES))} (not --dataset {dataset}, "
                             f"--image-size {values['image_size']})")
        if not values["eval_every"]:
            raise MxganError("--until-fid needs quality checks: --eval-every 0 turns them off")
    check_kvstore(values["kvstore"])
    if values["tensorboard"]:
        try:
            import tensorboardX  # noqa: F401
        except ImportError as exc:
            raise MxganError("--tensorboard needs tensorboardX: pip install '.[tensorboard]'") from exc
        check_writable(Path(values["tensorboard"]))
    from mxgan.runtime.devices import parse_ctx  # imports MXNet: call after mxgan.runtime.env.prepare_mxnet()

    contexts = parse_ctx(values["ctx"])
    _check_memory(values)
    if values["dtype"] == "float16" and any(c.device_type == "cpu" for c in contexts):
        raise MxganError("--dtype float16 needs a GPU (--ctx gpu0): MXNet 1.9.1 has no float16 GEMM on CPU")


def _check_memory(values: dict[str, Any]) -> None:
    """Refuse networks whose weights alone (with their gradients and Adam's two moments) exceed this machine's
    memory, before MXNet tries to allocate them."""
    from mxgan.model.symbols import make_dcgan_sym

    symG, symD = make_dcgan_sym(values["ngf"], values["ndf"], values["channels"], image_size=values["image_size"])
    size = values["image_size"]
    shapes = (symG.infer_shape(rand=(1, values["nz"], 1, 1))[0] +
              symD.infer_shape(data=(1, values["channels"], size, size), label=(1,))[0])
    weights = sum(math.prod(shape) for shape in shapes)
    needed, available = 16 * weights, os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    if needed > available:
        raise MxganError(f"--ngf {values['ngf']} / --ndf {values['ndf']}: G and D would need {needed / 2**30:,.0f} GiB "
                         f"for their weights, gradients and Adam's moments; this machine has {available / 2**30:.0f} "
                         "GiB (64 is the example's width)")


def _resume_config(args: argparse.Namespace, given: dict[str, Any]) -> TrainConfig:
    """The saved options of ``--resume RUN_DIR`` (checked as the flags are), with the flags that may change
    taken from the command line."""
    run = Path(args.resume)
    fixed = sorted(set(given) - set(RESUME_OVERRIDES) - {"resume"}) + (["lr"] if args.lr is not None else [])
    if fixed:
        names = {f.name: _flag(f) for f in config_fields()} | {"lr": "--lr"}
        raise MxganError(f"--resume keeps the run's own {', '.join(names[n] for n in fixed)}; "
                         f"only {', '.join(names[n] for n in RESUME_OVERRIDES)} may change")
    if run.exists() and not run.is_dir():
        raise MxganError(f"--resume {run} is a file; pass the run's folder (the --out it was started with)")
    cfg = _run_options(run)
    fields_by_name = {f.name: f for f in config_fields()}
    for name in RESUME_OVERRIDES:
        if name in given:
            _check_value(fields_by_name[name], given[name])
            setattr(cfg, name, given[name])
    if "data_dir" not in given and cfg.dataset != "synthetic" and not Path(cfg.data_dir).exists():
        raise MxganError(f"--resume {run}: the run's data, {cfg.data_dir}, is gone (moved?); pass --data-dir "
                         "where the same images are now")
    _check_combinations(vars(cfg))
    check_writable(run)
    from mxgan.checkpoints.run_folder import has_state, read_run_state

    if has_state(run):
        read_run_state(run)  # a damaged state.json (and its previous copy) is one line now, not after the data loaded
    cfg.out, cfg.resume = str(run), str(run)
    return cfg


def _run_options(run: Path) -> TrainConfig:
    """The ``run.json`` of a run folder as a :class:`TrainConfig`, each value checked as its flag is; a bad
    one is one line naming the field."""
    try:
        saved = json.loads((run / RUN_OPTIONS_FILE).read_text())
    except FileNotFoundError as exc:
        raise MxganError(f"--resume {run}: no {RUN_OPTIONS_FILE} there; pass the run folder a training run created"
                         ) from exc
    except (OSError, ValueError) as exc:
        raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE} is damaged ({exc})") from exc
    if not isinstance(saved, dict):
        raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE} is damaged (not a JSON object)")
    if "lr" in saved:  # written before G and D had a learning rate each
        saved.setdefault("lr_g", saved["lr"])
        saved.setdefault("lr_d", saved["lr"])
    missing = [name for name in RUN_ESSENTIALS if name not in saved]
    if missing:
        raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE} is damaged (it lacks {', '.join(missing)})")
    hints = typing.get_type_hints(TrainConfig)
    values = {}
    for f in fields(TrainConfig):
        if f.name not in saved:
            continue
        value = saved[f.name]
        kind = hints[f.name]
        if not _of_type(value, kind):
            expected = {int: "a whole number", float: "a number", bool: "true or false"}.get(kind, "a string")
            raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE}'s {f.name} is {value!r}, not {expected}")
        if f.metadata.get("cli", True):
            try:
                _check_value(f, value)
            except MxganError as exc:
                raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE}'s {f.name}: {exc}") from exc
        values[f.name] = value
    cfg = TrainConfig(**values)
    try:
        _check_combinations(vars(cfg))
        _check_run_architecture(run, cfg)
    except MxganError as exc:
        raise MxganError(f"--resume {run}: {RUN_OPTIONS_FILE}: {exc}") from exc
    return cfg


# what every run.json mxgan ever wrote holds; newer options missing from an older run's take their defaults
RUN_ESSENTIALS = ("dataset", "data_dir", "image_size", "channels", "batch_size", "nz", "ngf", "ndf", "seed", "epochs")


def _of_type(value: Any, kind: Any) -> bool:
    """Whether a JSON value has a :class:`TrainConfig` field's type (an int stands for a float)."""
    if kind is bool:
        return isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, str)


def _check_run_architecture(run: Path, cfg: TrainConfig) -> None:
    """The networks the options build are those of the run's newest checkpoint (a hand-edited run.json
    might say otherwise)."""
    from mxgan.checkpoints.formats import load_generator
    from mxgan.checkpoints.run_folder import has_state, read_run_state

    if not has_state(run):
        return
    try:
        saved = load_generator(str(run / read_run_state(run).files["G"])).arch
    except MxganError:
        return  # an unreadable set: the resume passes over it (and says so)
    built = (cfg.nz, cfg.ngf, cfg.channels, cfg.image_size, cfg.conditional)
    if built != (saved.nz, saved.ngf, saved.nc, saved.image_size, saved.conditional):
        raise MxganError(f"its --nz {cfg.nz} --ngf {cfg.ngf} --channels {cfg.channels} --image-size "
                         f"{cfg.image_size} do not build the network of the run's checkpoint, which was trained with "
                         f"--nz {saved.nz} --ngf {saved.ngf} --channels {saved.nc} --image-size {saved.image_size}")


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise MxganError(f"--{name} must be positive, got {value}")


def add_generator_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags that choose the generator of ``sample``, ``eval`` and ``export``."""
    add = parser.add_argument
    add("--checkpoint", required=True,
        help="generator checkpoint: a file, a prefix or a run folder, in any of the 4 formats; RUN_DIR:best is a "
             "run's evaluated checkpoint with the lowest FID-MNIST")
    add("--weights", default=None, choices=WEIGHTS,
        help="raw: G's weights at the checkpoint; ema: their moving average (--ema-decay runs; default: ema where "
             "a run folder has it, else the file given)")
    add("--recalibrate-bn", type=int, default=0, metavar="K",
        help="re-estimate BatchNorm's moving statistics over K training-mode batches of fresh z first (precise BN; "
             "0: use the saved ones)")


def check_generator_args(args: argparse.Namespace) -> None:
    """The flags of :func:`add_generator_arguments`."""
    if args.recalibrate_bn < 0:
        raise MxganError(f"--recalibrate-bn must be 0 or more batches, got {args.recalibrate_bn}")


@dataclass
class SampleConfig:
    """Options of ``mxgan sample``."""

    checkpoint: str
    num: int = 64
    out: str = "samples.png"
    seed: int = 0
    npy: str = ""
    separate: str = ""
    bn: str = "eval"
    nice: bool = False
    discriminator: str = ""
    interpolate: int = 0
    ctx: str = "cpu"
    batch_size: int = 64
    noise: str = ""
    digit: str = ""
    weights: str | None = None
    recalibrate_bn: int = 0


def add_sample_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sample`` flags."""
    d = SampleConfig(checkpoint="")
    add_generator_arguments(parser)
    add = parser.add_argument
    add("--num", type=int, default=d.num, help="images to draw")
    add("--out", default=d.out, help="grid PNG to write")
    add("--seed", type=int, default=d.seed, help="seed of the latent vectors")
    add("--npy", default=None, help="also save the images, (num, C, S, S) float32 in [-1, 1], as .npy")
    add("--separate", default=None, metavar="DIR", help="also write one PNG per image into DIR")
    add("--bn", default=d.bn, choices=("eval", "train"),
        help="BatchNorm statistics: eval = moving (an image depends only on its z), train = this batch's")
    add("--nice", action="store_true",
        help=f"draw {20}x more and keep those the discriminator scores highest (needs D)")
    add("--discriminator", default=None,
        help="D checkpoint for --nice, Module or Gluon (default: the D file beside G)")
    add("--interpolate", type=int, default=d.interpolate, metavar="K",
        help="K rows, each a slerp walk between two random latent points")
    add("--ctx", default=d.ctx, help="device: cpu or gpu0")
    add("--batch-size", type=int, default=d.batch_size, help="images per forward pass")
    add("--noise", default=None, choices=("normal", "uniform"),
        help="latent distribution (default: the run's, from run.json beside the checkpoint, else normal)")
    add("--digit", default=None, help="conditional models: draw this digit (0-9), or 'all' for a row per digit")


def _check_output_file(flag: str, path: str, image: bool = False) -> None:
    """A file ``flag`` will write: its folder exists and takes files (``image``: OpenCV can encode its type)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    check_name_fits(target, flag)
    if target.is_dir():
        raise MxganError(f"{flag} {path} is a folder; give a file name")
    if folder.exists() and not folder.is_dir():
        raise MxganError(f"{flag} {path}: {folder} is a file, not a folder; choose another {flag}")
    if not folder.is_dir():
        raise MxganError(f"{flag} {path}: the folder {folder} does not exist; create it or choose another {flag}")
    check_writable(target, flag, folder=False)
    if image and not cv2.haveImageWriter(str(target)):
        raise MxganError(f"{flag} {path}: OpenCV cannot write a {target.suffix or 'suffix-less'} picture; "
                         "name it .png (or .jpg, .bmp, .webp)")


def _check_count(flag: str, value: int, limit: int, what: str) -> None:
    _positive(flag.lstrip("-"), value)
    if value > limit:
        raise MxganError(f"{flag} {value} is more than {limit} {what} (they are held in memory at once)")


def validate_sample_args(args: argparse.Namespace) -> SampleConfig:
    """``mxgan sample`` flags to a :class:`SampleConfig`, or one clear :class:`MxganError`."""
    check_generator_args(args)
    for name in ("num", "batch_size"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.interpolate < 0 or args.interpolate > args.num:
        raise MxganError(f"--interpolate {args.interpolate} must be between 1 and --num ({args.num}) rows")
    if args.nice and args.interpolate:
        raise MxganError("--nice and --interpolate do not combine; choose one")
    if args.discriminator and not args.nice:
        raise MxganError("--discriminator scores the samples of --nice; add --nice, or leave it out")
    if args.digit is not None and args.digit != "all" and args.digit not in [str(d) for d in range(10)]:
        raise MxganError(f"--digit {args.digit!r}: give a digit 0-9, or 'all' for a row per digit")
    if args.digit == "all" and (args.nice or args.interpolate):
        raise MxganError("--digit all draws its own grid; combine --nice or --interpolate with one digit")
    _check_count("--num", args.num, MAX_SAMPLES, "images")
    _check_output_file("--out", args.out, image=True)
    if args.npy:
        _check_output_file("--npy", args.npy)
    if args.separate:
        separate = Path(args.separate)
        check_writable(separate, "--separate")
        if separate.exists() and (not separate.is_dir() or any(separate.iterdir())):
            raise MxganError(f"--separate {separate} already holds files; give a new or empty folder (its pictures "
                             "appear all at once when every one is drawn)")
    from mxgan.runtime.devices import parse_ctx

    parse_ctx(args.ctx)
    values = {k: v for k, v in vars(args).items() if k in SampleConfig.__dataclass_fields__}
    values.update(npy=args.npy or "", separate=args.separate or "", discriminator=args.discriminator or "",
                  noise=args.noise or "", digit=args.digit or "")
    return SampleConfig(**values)


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``export`` flags."""
    add_generator_arguments(parser)
    parser.add_argument("--out", required=True, metavar="PREFIX",
                        help="writes PREFIX-symbol.json and PREFIX-0000.params")
    parser.add_argument("--onnx", action="store_true", help="also write PREFIX.onnx (needs the onnx extra)")


def validate_export_args(args: argparse.Namespace) -> argparse.Namespace:
    """Check ``mxgan export`` flags; one clear :class:`MxganError` otherwise."""
    check_generator_args(args)
    if not Path(args.out).name or args.out.endswith(("/", os.sep)):
        raise MxganError(f"--out {args.out!r} is a prefix: export writes PREFIX-symbol.json and PREFIX-0000.params; "
                         "give it a name, such as export/gen")
    _check_output_file("--out", f"{args.out}-symbol.json")
    return args


def add_bench_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``bench`` flags (``python bench/throughput.py``)."""
    add = parser.add_argument
    add("--ctx", default="cpu", help="device: cpu or gpu0")
    add("--batch-size", type=int, nargs="+", default=[64], help="one or more batch sizes")
    add("--image-size", type=int, default=64, help="image side: 16, 32, 64 or 128")
    add("--channels", type=int, default=3, help="image channels: 1 or 3")
    add("--nz", type=int, default=100, help="latent vector length")
    add("--ngf", type=int, default=64, help="generator width")
    add("--ndf", type=int, default=64, help="discriminator width")
    add("--repeats", type=int, default=5, help="timed blocks per measurement (the median is reported)")
    add("--steps", type=int, default=3, help="steps (or forward passes) per timed block")
    add("--compare", choices=("torch",), default=None, help="also time PyTorch's DCGAN example, same sizes")
    add("--json", default=None, help="also write the results to this JSON file")
    add("--data-dir", default=None, help="folder holding mnist/ for the data-pipeline and memory figures "
        "(default: $MXGAN_DATA_DIR, else ./data)")
    add("--rss-steps", type=int, default=20,
        help="steps of the MNIST training run whose peak memory is reported (0: skip)")
    add("--gemm-size", type=int, default=4096, help="side of the float32 GEMM timed as the machine's peak")
    add("--variants", action="store_true",
        help="also time the example's loop as written, each optimisation, and thread settings")
    add("--g-steps", type=int, default=1, help="G updates per step (the default recipe: 2; PyTorch's example: 1)")
    add("--profile", action="store_true",
        help="instead, where one training step's time goes: each operator's share of the step, and the "
             "(de)convolutions' speed against this machine's matrix product (oneDNN's own timings)")


def validate_bench_args(args: argparse.Namespace):
    """``bench`` flags to a :class:`mxgan.bench.throughput.BenchConfig`, or one clear :class:`MxganError`."""
    if args.image_size not in IMAGE_SIZES:
        sizes = ", ".join(map(str, IMAGE_SIZES))
        raise MxganError(f"--image-size {args.image_size} is not supported; use one of {sizes}")
    if args.channels not in (1, 3):
        raise MxganError(f"--channels must be 1 or 3, got {args.channels}")
    for batch in args.batch_size:
        _positive("batch-size", batch)
    for name in ("nz", "ngf", "ndf", "repeats", "steps", "gemm_size", "g_steps"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.compare == "torch" and args.g_steps != 1:
        raise MxganError(f"--compare torch races PyTorch's example, which updates G once a step: --g-steps 1, not "
                         f"{args.g_steps}")
    if args.rss_steps < 0:
        raise MxganError(f"--rss-steps must be 0 or more, got {args.rss_steps}")
    if args.compare == "torch":
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise MxganError("--compare torch needs PyTorch: pip install '.[bench]' (torch==2.13.0, CPU)") from exc
    if args.json:
        _check_output_file("--json", args.json)
    from mxgan.bench.throughput import BenchConfig
    from mxgan.data.idx import default_data_dir
    from mxgan.runtime.devices import parse_ctx

    parse_ctx(args.ctx)
    return BenchConfig(
        ctx=args.ctx, batch_sizes=list(args.batch_size), image_size=args.image_size, channels=args.channels,
        nz=args.nz, ngf=args.ngf, ndf=args.ndf, repeats=args.repeats, steps=args.steps, compare=args.compare or "",
        data_dir=str(Path(args.data_dir) if args.data_dir else default_data_dir()), rss_steps=args.rss_steps,
        gemm_size=args.gemm_size, variants=args.variants, g_steps=args.g_steps, profile=args.profile,
    )


def add_eval_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``eval`` flags."""
    add_generator_arguments(parser)
    add = parser.add_argument
    add("--all", action="store_true",
        help="--checkpoint RUN_DIR: a row for every checkpoint set the run folder holds, the best one marked")
    add("--num", type=int, default=10000, help="samples to judge")
    add("--seed", type=int, default=0, help="seed of the latent vectors")
    add("--batch-size", type=int, default=250, help="images per forward pass")
    add("--json", default=None, help="also write the report to this JSON file")
    add("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR, else ./data)")
    add("--ctx", default="cpu", help="device: cpu or gpu0")


def add_classifier_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``classifier`` flags."""
    add = parser.add_argument
    add("action", choices=("train",), help="train: (re)make the MNIST classifier mxgan eval uses")
    add("--epochs", type=int, default=4, help="passes over MNIST's 60000 training images")
    add("--seed", type=int, default=0, help="seed of the weights and the batch order (repeatable on CPU)")
    add("--train-size", type=int, default=0, help="train on the first N training images only (0: all)")
    add("--out", default=str(CLASSIFIER_WEIGHTS), help="weights file to write")
    add("--data-dir", default=None, help="folder holding mnist/ (default: $MXGAN_DATA_DIR, else ./data)")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")


def validate_eval_args(args: argparse.Namespace) -> argparse.Namespace:
    """Check ``eval`` flags; one clear :class:`MxganError` otherwise."""
    check_generator_args(args)
    if args.all and not (Path(args.checkpoint) / STATE_FILE).is_file():
        raise MxganError(f"--all needs a run folder of mxgan train as --checkpoint; {args.checkpoint} is not one")
    _check_count("--num", args.num, MAX_SAMPLES, "samples")
    _positive("batch-size", args.batch_size)
    if args.num < FEWEST_JUDGED:
        raise MxganError(f"--num must be {FEWEST_JUDGED} or more, got {args.num} (a Frechet distance and the "
                         "neighbourhood metrics need a sample of some size)")
    if args.json:
        _check_output_file("--json", args.json)
    return _with_data_dir(args)


def validate_classifier_args(args: argparse.Namespace) -> argparse.Namespace:
    """Check ``classifier`` flags; one clear :class:`MxganError` otherwise."""
    _positive("epochs", args.epochs)
    if args.train_size < 0:
        raise MxganError(f"--train-size must be 0 or more, got {args.train_size}")
    _check_output_file("--out", args.out)
    return _with_data_dir(args)


def _with_data_dir(args: argparse.Namespace) -> argparse.Namespace:
    from mxgan.data.idx import default_data_dir

    args.data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    return args


def add_pack_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``pack`` flags."""
    add = parser.add_argument
    add("folder", metavar="DIR", help="folder of pictures (png/jpg/jpeg/bmp/webp, subfolders too)")
    add("out", metavar="OUT.rec", help="RecordIO file to write; its index goes to OUT.idx beside it")
    add("--size", type=int, default=64,
        help="side of the stored squares; --dataset rec crops and resizes them to --image-size")
    add("--channels", type=int, default=3, help="3 (RGB) or 1 (gray)")
    add("--format", default="png", choices=("png", "jpg"), help="encoding of the stored images (png: lossless)")
    add("--quality", type=int, default=95, help="JPEG quality, 1-100 (--format jpg)")
    add("--no-progress", dest="progress", action="store_false", help="no progress bar")


def validate_pack_args(args: argparse.Namespace) -> argparse.Namespace:
    """Check ``pack`` flags; one clear :class:`MxganError` otherwise."""
    if not Path(args.folder).is_dir():
        raise MxganError(f"{args.folder} is not a folder; give the folder of pictures to pack")
    if not args.out.endswith(".rec"):
        raise MxganError(f"{args.out}: the output must end in .rec (its index is written beside it as .idx)")
    if args.size < 8:
        raise MxganError(f"--size must be at least 8 pixels, got {args.size}")
    if args.size > MAX_PACK_SIDE:
        raise MxganError(f"--size {args.size} is more than {MAX_PACK_SIDE} pixels (each picture is held in memory at "
                         f"that size; training uses at most {max(IMAGE_SIZES)})")
    if args.channels not in (1, 3):
        raise MxganError(f"--channels must be 1 or 3, got {args.channels}")
    if not 1 <= args.quality <= 100:
        raise MxganError(f"--quality must be between 1 and 100, got {args.quality}")
    _check_output_file("OUT.rec", args.out)
    return args


def add_launch_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``launch`` flags."""
    add = parser.add_argument
    add("--workers", type=int, default=2, help="training processes (each reads its own part of the data)")
    add("--servers", type=int, default=1, help="parameter-server processes")
    add("--port", type=int, default=0, help="the scheduler's port on 127.0.0.1 (0: a free one)")
    add("train_args", nargs=argparse.REMAINDER, metavar="-- TRAIN_FLAGS",
        help="the flags of mxgan train, after --; they must include --kvstore dist_sync or dist_async")


def validate_launch_args(args: argparse.Namespace) -> list[str]:
    """``launch`` flags to the workers' ``train`` flags, or one clear :class:`MxganError`."""
    _positive("workers", args.workers)
    _positive("servers", args.servers)
    if not 0 <= args.port <= 65535:
        raise MxganError(f"--port must be a TCP port, 1-65535 (or 0: a free one), got {args.port}")
    if args.port:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", args.port))
            except OSError as exc:
                raise MxganError(f"--port {args.port} is in use on 127.0.0.1 ({exc.strerror}); choose another, or "
                                 "0 for a free one") from exc
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    kvstores = [value for flag, value in zip(train_args, train_args[1:]) if flag == "--kvstore"]
    kvstores += [arg.split("=", 1)[1] for arg in train_args if arg.startswith("--kvstore=")]
    if not kvstores or not kvstores[-1].startswith("dist"):
        raise MxganError("mxgan launch runs distributed training: add --kvstore dist_sync (or dist_async) to the "
                         "train flags after --, e.g. mxgan launch --workers 2 -- --kvstore dist_sync --dataset mnist")
    return train_args
