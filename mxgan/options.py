"""Training options: the ``train`` flags, their defaults, and their validation in one place."""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from mxgan.datasets import IDX_DATASETS
from mxgan.distributed import check_kvstore
from mxgan.errors import MxganError
from mxgan.paths import CLASSIFIER_WEIGHTS, STATE_FILE

WEIGHTS = ("raw", "ema")  # a run's generator weights: as trained, or their moving average

DATASET_CHOICES = ("mnist", "fashion-mnist", "synthetic", "folder", "rec")
LABELLED_DATASETS = tuple(IDX_DATASETS)  # MNIST-format: gray, with labels
IMAGE_SIZES = (16, 32, 64, 128)
DATASET_CHANNELS = {name: 1 for name in LABELLED_DATASETS} | {"synthetic": 3, "folder": 3, "rec": 3}

# Training defaults a recipe sets; a flag given on the command line wins over its recipe.
# "example" is MXNet's example/gan/dcgan.py exactly; "default" departs from it where
# bench/README.md ("Choosing the default recipe") measured a gain. channels None: the data's own.
RECIPES = {
    "default": {"channels": None, "batch_size": 64, "lr_g": 4e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 2, "ema_decay": 0.999},
    "example": {"channels": 3, "batch_size": 64, "lr_g": 2e-4, "lr_d": 2e-4, "beta1": 0.5, "beta2": 0.999,
                "g_steps": 1, "ema_decay": 0.0},
}


@dataclass
class TrainConfig:
    """Everything a training run depends on; saved as ``run.json`` in the run folder."""

    recipe: str = "default"
    dataset: str = "mnist"
    data_dir: str = ""
    out: str = ""
    ctx: str = "cpu"
    image_size: int = 64
    channels: int = 3
    batch_size: int = 64
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    wd: float = 0.0
    init_sigma: float = 0.02
    epochs: int = 25
    max_steps: int = 0
    seed: int = 0
    log_every: int = 10
    sample_every: int = 200
    progress: bool = True
    checkpoint: str = ""
    checkpoint_every: int = 0
    keep: int = 0
    resume: str = ""
    g_fix_gamma: bool = True  # False when --checkpoint's generator learned its BatchNorm gamma (Gluon)
    dtype: str = "float32"
    cudnn_tune: str = ""
    eval_every: int = 1
    eval_samples: int = 2000
    real_label: float = 1.0
    noise: str = "normal"
    d_steps: int = 1
    g_steps: int = 1
    pretrain_d: int = 0
    conditional: bool = False
    tensorboard: str = ""
    rand_crop: bool = True
    rand_mirror: bool = True
    kvstore: str = "local"
    dist_timeout: float = 120.0
    ema_decay: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


# The options a --resume may change; all others come from the run's run.json.
RESUME_OVERRIDES = ("epochs", "max_steps", "ctx", "log_every", "sample_every", "checkpoint_every", "keep", "progress",
                    "eval_every", "eval_samples", "tensorboard", "kvstore", "dist_timeout")


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``train`` flags, kebab-case, defaults shown by ``--help``."""
    d = TrainConfig()
    add = parser.add_argument
    add("--dataset", default=d.dataset,
        help="training images: mnist, fashion-mnist, folder (of pictures), rec (from mxgan pack) or synthetic "
             "(random, for smoke runs)")
    add("--data-dir", default=None,
        help="mnist/fashion-mnist: the folder holding <dataset>/ (default: $MXGAN_DATA_DIR, else ./data); "
             "folder: the folder of pictures; rec: the .rec file")
    add("--out", default=None,
        help="run folder for checkpoints, samples and metrics (default: runs/<dataset>-<timestamp>)")
    add("--ctx", default=d.ctx,
        help="devices: cpu, gpu0, gpu0,gpu1 or cpu0,cpu1 (the batch is split across them)")
    add("--image-size", type=int, default=d.image_size, help="image side in pixels: 16, 32, 64 or 128")
    add("--channels", type=int, default=None,
        help="image channels, 1 or 3 (default: the data's own, 1 for mnist and fashion-mnist; --recipe example: 3, "
             "gray tiled to RGB as the example does)")
    add("--batch-size", type=int, default=None, help="images per step (default: the recipe's, 64)")
    add("--nz", type=int, default=d.nz, help="latent vector length")
    add("--ngf", type=int, default=d.ngf, help="generator width")
    add("--ndf", type=int, default=d.ndf, help="discriminator width")
    add("--recipe", default=d.recipe, choices=tuple(RECIPES),
        help="training defaults: default (measured in bench/README.md) or example (MXNet's example/gan exactly: "
             "3 channels, its Adam, 1 G update per step, no EMA); flags given explicitly override either")
    add("--lr", type=float, default=None, help="Adam learning rate of G and D (sets --lr-g and --lr-d)")
    add("--lr-g", type=float, default=None, help="G's Adam learning rate (default: --lr, else the recipe's)")
    add("--lr-d", type=float, default=None, help="D's Adam learning rate (default: --lr, else the recipe's)")
    add("--beta1", type=float, default=None, help="Adam beta1 (default: the recipe's)")
    add("--beta2", type=float, default=None, help="Adam beta2 (default: the recipe's)")
    add("--ema-decay", type=float, default=None,
        help="keep an exponential moving average of G's weights with this decay, ramped up early on, saved as "
             "<dataset>_G_ema-NNNN.params and used for samples (0: off; default: the recipe's)")
    add("--wd", type=float, default=d.wd, help="weight decay")
    add("--init-sigma", type=float, default=d.init_sigma, help="std of the Normal weight initializer")
    add("--epochs", type=int, default=d.epochs, help="passes over the dataset")
    add("--max-steps", type=int, default=d.max_steps, help="stop after this many steps (0: no limit)")
    add("--seed", type=int, default=d.seed, help="seed for weights, noise and data order (a CPU run repeats exactly)")
    add("--log-every", type=int, default=d.log_every, help="steps between metrics lines in metrics.jsonl")
    add("--sample-every", type=int, default=d.sample_every,
        help="steps between fixed-noise sample grids (0: end of epoch only)")
    add("--no-progress", dest="progress", action="store_false",
        help="no progress bar (metrics still go to metrics.jsonl)")
    add("--eval-every", type=int, default=d.eval_every,
        help="epochs between quality checks of MNIST generators (FID-MNIST, digit histogram; 0: off)")
    add("--eval-samples", type=int, default=d.eval_samples, help="samples judged at each quality check")
    add("--real-label", type=float, default=d.real_label,
        help="D's target for real images; 0.9 is one-sided label smoothing (G still aims at 1)")
    add("--noise", default=d.noise, choices=("normal", "uniform"), help="z ~ N(0, 1) (the example's) or U(-1, 1)")
    add("--d-steps", type=int, default=d.d_steps, help="D updates per G update (each on its own real batch)")
    add("--g-steps", type=int, default=None,
        help="G updates after each G turn, each on a fresh z (default: the recipe's)")
    add("--pretrain-d", type=int, default=d.pretrain_d, help="steps at the start in which only D is trained")
    add("--rand-crop", action=argparse.BooleanOptionalAction, default=d.rand_crop,
        help="rec: crop a random 75-100%% square of each image, as the example (else the whole image)")
    add("--rand-mirror", action=argparse.BooleanOptionalAction, default=d.rand_mirror,
        help="rec: flip half the images left-right, as the example")
    add("--kvstore", default=d.kvstore,
        help="how devices and workers share gradients: local, device, dist_sync or dist_async "
             "(dist_*: start the processes with mxgan launch)")
    add("--dist-timeout", type=float, default=d.dist_timeout,
        help="dist_*: seconds a worker waits for a step before it decides another process died and stops")
    add("--conditional", action="store_true",
        help="cDCGAN: G and D also see the digit (mnist, fashion-mnist); sample --digit 7 then draws sevens")
    add("--tensorboard", default=None, metavar="DIR",
        help="also log scalars and sample grids for TensorBoard into DIR (the tensorboard extra)")
    add("--dtype", default=d.dtype, choices=("float32", "float16"),
        help="float16 (GPU only): half-precision weights and activations, Adam on float32 master copies")
    add("--cudnn-tune", default=None, choices=("off", "limited_workspace", "fastest"),
        help="cuDNN convolution algorithm search (GPU only; default: MXNet's, limited_workspace)")
    add("--checkpoint", default=None,
        help="start from this generator checkpoint (a file, a prefix or a run folder; 4 formats)")
    add("--checkpoint-every", type=int, default=d.checkpoint_every,
        help="steps between extra checkpoints within an epoch (0: at epoch ends only)")
    add("--keep", type=int, default=d.keep, help="keep only the newest N checkpoints (0: keep all)")
    changeable = ", ".join("--no-progress" if n == "progress" else "--" + n.replace("_", "-") for n in RESUME_OVERRIDES)
    add("--resume", default=None, metavar="RUN_DIR",
        help=f"continue a run exactly where its last checkpoint left it, with its options except {changeable}")


def _positive(name: str, value: float) -> None:
    if not (value > 0 and math.isfinite(value)):
        raise MxganError(f"--{name} must be positive, got {value}")


def _unit_interval(name: str, value: float, hint: str = "") -> None:
    """``value`` in [0, 1)."""
    if not 0 <= value < 1:
        raise MxganError(f"--{name} must be in [0, 1), got {value}{hint}")


def apply_recipe(args: argparse.Namespace) -> None:
    """Fill the flags left unset from ``--recipe``'s values (``--lr`` sets both learning rates)."""
    if args.recipe not in RECIPES:
        raise MxganError(f"--recipe {args.recipe!r} is unknown; choose one of {', '.join(RECIPES)}")
    if args.lr is not None:
        _positive("lr", args.lr)
        args.lr_g = args.lr if args.lr_g is None else args.lr_g
        args.lr_d = args.lr if args.lr_d is None else args.lr_d
    for name, value in RECIPES[args.recipe].items():
        if getattr(args, name) is None:
            setattr(args, name, DATASET_CHANNELS.get(args.dataset, 3) if value is None else value)


def _check_writable(out: Path) -> None:
    """Prove ``out`` can be created and written, without creating it (a failed run leaves no folder)."""
    existing = out.absolute()
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise MxganError(f"--out {out}: {existing} is a file, not a folder; choose another --out")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as exc:
        raise MxganError(f"--out {out} is not writable ({exc.strerror}); choose another folder") from exc


def validate_train_args(args: argparse.Namespace) -> TrainConfig:
    """Turn parsed flags into a :class:`TrainConfig`, or raise one clear :class:`MxganError`.

    Checks everything that can be checked before data is loaded or MXNet binds,
    and creates nothing: an existing run is never overwritten.
    """
    if args.dataset not in DATASET_CHOICES:
        raise MxganError(f"--dataset {args.dataset!r} is unknown; choose one of {', '.join(DATASET_CHOICES)}")
    if args.conditional and args.dataset not in LABELLED_DATASETS:
        raise MxganError(f"--conditional needs labelled data: --dataset mnist or fashion-mnist, not {args.dataset}")
    if args.dataset in ("folder", "rec") and not args.data_dir:
        what = "the folder of pictures" if args.dataset == "folder" else "the .rec file written by mxgan pack"
        raise MxganError(f"--dataset {args.dataset} needs --data-dir: {what}")
    check_kvstore(args.kvstore)
    apply_recipe(args)
    if args.image_size not in IMAGE_SIZES:
        raise MxganError(
            f"--image-size {args.image_size} is not supported; use one of "
            f"{', '.join(map(str, IMAGE_SIZES))} (28x28 inputs are resized)"
        )
    if args.channels not in (1, 3):
        raise MxganError(f"--channels must be 1 or 3, got {args.channels}")
    for name in ("batch_size", "nz", "ngf", "ndf", "lr_g", "lr_d", "epochs", "log_every", "init_sigma",
                 "dist_timeout"):
        _positive(name.replace("_", "-"), getattr(args, name))
    _positive("eval-samples", args.eval_samples)
    _positive("d-steps", args.d_steps)
    _positive("g-steps", args.g_steps)
    if not 0 < args.real_label <= 1:
        raise MxganError(f"--real-label must be in (0, 1], got {args.real_label} (0.9 is the usual smoothing)")
    for name in ("max_steps", "sample_every", "wd", "checkpoint_every", "keep", "eval_every", "pretrain_d"):
        if getattr(args, name) < 0:
            raise MxganError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(args, name)}")
    _unit_interval("beta1", args.beta1)
    _unit_interval("beta2", args.beta2)
    _unit_interval("ema-decay", args.ema_decay, " (0 turns the EMA off; 0.999 is usual)")

    if args.tensorboard:
        try:
            import tensorboardX  # noqa: F401
        except ImportError as exc:
            raise MxganError("--tensorboard needs tensorboardX: pip install '.[tensorboard]'") from exc
        _check_writable(Path(args.tensorboard))
    from mxgan.contexts import parse_ctx  # imports MXNet: call after mxgan.env.prepare_mxnet()
    from mxgan.datasets import default_data_dir

    contexts = parse_ctx(args.ctx)
    if args.dtype == "float16" and any(c.device_type == "cpu" for c in contexts):
        raise MxganError("--dtype float16 needs a GPU (--ctx gpu0): MXNet 1.9.1 has no float16 GEMM on CPU")
    if args.resume:
        return _resume_config(args)
    if args.checkpoint:
        from mxgan.formats import resolve

        resolve(args.checkpoint, "G")  # exists, or one clear error now
    data_dir = Path(args.data_dir) if args.data_dir else default_data_dir()
    out = Path(args.out) if args.out else Path("runs") / f"{args.dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    # a folder whose run failed before its first checkpoint holds nothing to lose: the same command may reuse it
    if (out / STATE_FILE).exists() or any(out.glob("*.params")):
        raise MxganError(f"--out {out} already holds a run; continue it with --resume {out}, or choose a new --out")
    _check_writable(out)
    values = {k: v for k, v in vars(args).items() if k in TrainConfig.__dataclass_fields__}
    values.update(data_dir=str(data_dir), out=str(out), checkpoint=args.checkpoint or "", resume="",
                  cudnn_tune=args.cudnn_tune or "", tensorboard=args.tensorboard or "")
    return TrainConfig(**values)


def _resume_config(args: argparse.Namespace) -> TrainConfig:
    """The saved options of ``--resume RUN_DIR``, with the flags that may change taken from the command line."""
    run = Path(args.resume)
    try:
        saved = json.loads((run / "run.json").read_text())
        if "lr" in saved:  # written before G and D had a learning rate each
            saved.setdefault("lr_g", saved["lr"])
            saved.setdefault("lr_d", saved["lr"])
        cfg = TrainConfig(**{k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__})
    except FileNotFoundError as exc:
        raise MxganError(f"--resume {run}: no run.json there; pass the run folder a training run created") from exc
    except (ValueError, TypeError) as exc:
        raise MxganError(f"--resume {run}: run.json is damaged ({exc})") from exc
    if not (run / STATE_FILE).exists():
        raise MxganError(f"--resume {run}: no checkpoint was written in that run yet; start it again "
                         "(the same command may reuse its --out)")
    _check_writable(run)
    for name in RESUME_OVERRIDES:
        setattr(cfg, name, getattr(args, name))
    cfg.tensorboard = cfg.tensorboard or ""
    cfg.out, cfg.resume = str(run), str(run)
    return cfg


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
    add("--discriminator", default=None, help="D checkpoint for --nice (default: the _D file beside G)")
    add("--interpolate", type=int, default=d.interpolate, metavar="K",
        help="K rows, each a slerp walk between two random latent points")
    add("--ctx", default=d.ctx, help="device: cpu or gpu0")
    add("--batch-size", type=int, default=d.batch_size, help="images per forward pass")
    add("--noise", default=None, choices=("normal", "uniform"),
        help="latent distribution (default: the run's, from run.json beside the checkpoint, else normal)")
    add("--digit", default=None, help="conditional models: draw this digit (0-9), or 'all' for a row per digit")


def _check_output_file(flag: str, path: str) -> None:
    target = Path(path)
    if target.is_dir():
        raise MxganError(f"{flag} {path} is a folder; give a file name")
    _check_writable(target.parent if str(target.parent) else Path("."))


def validate_sample_args(args: argparse.Namespace) -> SampleConfig:
    """``mxgan sample`` flags to a :class:`SampleConfig`, or one clear :class:`MxganError`."""
    check_generator_args(args)
    for name in ("num", "batch_size"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.interpolate < 0 or args.interpolate > args.num:
        raise MxganError(f"--interpolate {args.interpolate} must be between 1 and --num ({args.num}) rows")
    if args.nice and args.interpolate:
        raise MxganError("--nice and --interpolate do not combine; choose one")
    if args.digit is not None and args.digit != "all" and args.digit not in [str(d) for d in range(10)]:
        raise MxganError(f"--digit {args.digit!r}: give a digit 0-9, or 'all' for a row per digit")
    if args.digit == "all" and (args.nice or args.interpolate):
        raise MxganError("--digit all draws its own grid; combine --nice or --interpolate with one digit")
    _check_output_file("--out", args.out)
    if args.npy:
        _check_output_file("--npy", args.npy)
    if args.separate:
        _check_writable(Path(args.separate))
    from mxgan.contexts import parse_ctx

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


def validate_bench_args(args: argparse.Namespace):
    """``bench`` flags to a :class:`mxgan.bench.BenchConfig`, or one clear :class:`MxganError`."""
    if args.image_size not in IMAGE_SIZES:
        sizes = ", ".join(map(str, IMAGE_SIZES))
        raise MxganError(f"--image-size {args.image_size} is not supported; use one of {sizes}")
    if args.channels not in (1, 3):
        raise MxganError(f"--channels must be 1 or 3, got {args.channels}")
    for batch in args.batch_size:
        _positive("batch-size", batch)
    for name in ("nz", "ngf", "ndf", "repeats", "steps", "gemm_size"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.rss_steps < 0:
        raise MxganError(f"--rss-steps must be 0 or more, got {args.rss_steps}")
    if args.compare == "torch":
        try:
            import torch  # noqa: F401
        except ImportError as exc:
            raise MxganError("--compare torch needs PyTorch: pip install '.[bench]' (torch==2.13.0, CPU)") from exc
    if args.json:
        _check_output_file("--json", args.json)
    from mxgan.bench import BenchConfig
    from mxgan.contexts import parse_ctx
    from mxgan.datasets import default_data_dir

    parse_ctx(args.ctx)
    return BenchConfig(
        ctx=args.ctx, batch_sizes=list(args.batch_size), image_size=args.image_size, channels=args.channels,
        nz=args.nz, ngf=args.ngf, ndf=args.ndf, repeats=args.repeats, steps=args.steps, compare=args.compare or "",
        data_dir=str(Path(args.data_dir) if args.data_dir else default_data_dir()), rss_steps=args.rss_steps,
        gemm_size=args.gemm_size, variants=args.variants,
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
    for name in ("num", "batch_size"):
        _positive(name.replace("_", "-"), getattr(args, name))
    if args.num < 2:
        raise MxganError("--num must be at least 2 (a covariance needs two samples)")
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
    from mxgan.datasets import default_data_dir

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
    train_args = args.train_args[1:] if args.train_args[:1] == ["--"] else args.train_args
    kvstores = [value for flag, value in zip(train_args, train_args[1:]) if flag == "--kvstore"]
    kvstores += [arg.split("=", 1)[1] for arg in train_args if arg.startswith("--kvstore=")]
    if not kvstores or not kvstores[-1].startswith("dist"):
        raise MxganError("mxgan launch runs distributed training: add --kvstore dist_sync (or dist_async) to the "
                         "train flags after --, e.g. mxgan launch --workers 2 -- --kvstore dist_sync --dataset mnist")
    return train_args
