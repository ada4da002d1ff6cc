"""Throughput of mxgan's training step, generator and data pipeline, next to PyTorch's DCGAN.

Every figure is the median of ``repeats`` timed blocks after warm-up, in images/s;
mxgan and torch blocks alternate, so a noisy machine slows both alike.
"""

from __future__ import annotations

import ast
import functools
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import mxnet as mx
import numpy as np

from mxgan.bench.contenders import mxgan_contenders
from mxgan.bench.profile import format_profile, profile_step
from mxgan.bench.race import MXGAN, TORCH, race
from mxgan.bench.timing import interleaved
from mxgan.config import RECIPES, BenchConfig
from mxgan.constants import DATASET_CHANNELS
from mxgan.data.batches import ImageBatches, load_images, prefetch
from mxgan.model.modules import GAN, GanSpec, build_gan
from mxgan.model.precision import in_bfloat16
from mxgan.model.symbols import make_dcgan_sym
from mxgan.runtime.amx import cpu_model
from mxgan.runtime.devices import parse_ctx
from mxgan.runtime.env import available_cores
from mxgan.training.ema import GeneratorEMA
from mxgan.training.step import Labels, StepInputs, schedule, train_step

REPO = Path(__file__).resolve().parent.parent
BFLOAT16_GEMM = "mxnet bfloat16"


def layer_macs(symbol: mx.sym.Symbol, **inputs) -> int:
    """Multiply-accumulates per image in the (De)Convolution layers of ``symbol``."""
    internals = symbol.get_internals()
    arg_shapes, out_shapes, _ = internals.infer_shape(**inputs)
    weights = dict(zip(internals.list_arguments(), arg_shapes))
    outputs = dict(zip(internals.list_outputs(), out_shapes))
    total = 0
    for node in json.loads(symbol.tojson())["nodes"]:
        if node["op"] not in ("Convolution", "Deconvolution"):
            continue
        weight = int(np.prod(weights[f"{node['name']}_weight"]))
        out_hw = outputs[f"{node['name']}_output"][2]
        if node["op"] == "Convolution":  # each output pixel meets the whole kernel
            total += weight * out_hw * out_hw
        else:  # each input pixel meets the whole kernel
            attrs = node["attrs"]
            stride = ast.literal_eval(attrs.get("stride", "(1, 1)"))[0]
            pad = ast.literal_eval(attrs.get("pad", "(0, 0)"))[0]
            kernel = ast.literal_eval(attrs["kernel"])[0]
            in_hw = (out_hw + 2 * pad - kernel) // stride + 1
            total += weight * in_hw * in_hw
    return total


def flops_per_training_image(cfg: BenchConfig) -> float:
    """FLOPs of one image through the step: for each G update, G forward + backward (3 forwards' worth);
    D on the fake and the real batch and once more for each G update, forward + backward (3 each), as the
    example's and PyTorch's steps do (9 D forwards' worth with one G update)."""
    symG, symD = make_dcgan_sym(cfg.ngf, cfg.ndf, cfg.channels, image_size=cfg.image_size)
    size = cfg.image_size
    g = 2 * layer_macs(symG, rand=(1, cfg.nz, 1, 1))
    d = 2 * layer_macs(symD, data=(1, cfg.channels, size, size), label=(1,))
    return 3 * cfg.g_steps * g + 3 * (2 + cfg.g_steps) * d


def gemm_gflops(n: int, repeats: int, bfloat16: bool = False) -> dict[str, float]:
    """float32 n x n matrix product speed of numpy and of MXNet, GFLOP/s (median); ``bfloat16``: also MXNet's
    bfloat16 product (a FullyConnected as AMP runs it, on AMX where granted), the peak a bfloat16 step aims at."""
    a = np.random.default_rng(0).standard_normal((n, n), dtype=np.float32)
    b = np.random.default_rng(1).standard_normal((n, n), dtype=np.float32)
    ma, mb = mx.nd.array(a), mx.nd.array(b)
    products = {"numpy": lambda: np.dot(a, b), "mxnet": lambda: mx.nd.dot(ma, mb)}
    syncs = {"numpy": lambda: None, "mxnet": mx.nd.waitall}
    if bfloat16:
        product = in_bfloat16(mx.sym.FullyConnected(mx.sym.Variable("a"), num_hidden=n, no_bias=True, name="b"))
        executor = product.bind(mx.cpu(), {"a": ma, "b_weight": mb})
        products[BFLOAT16_GEMM] = lambda: executor.forward(is_train=False)
        syncs[BFLOAT16_GEMM] = mx.nd.waitall
    seconds = interleaved(products, syncs, repeats)
    return {k: 2 * n**3 / s / 1e9 for k, s in seconds.items()}


def step_variants(cfg: BenchConfig, batch: int) -> dict[str, float]:
    """images/s of the same step written four ways, from the same weights, in one process."""
    from mxgan.bench.example_step import bind_example_modules, example_step

    contexts = parse_ctx(cfg.ctx)
    gans = []
    for d_input_gradient in (True, False):
        mx.random.seed(0)
        gans.append(build_gan(GanSpec(batch, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size,
                                      d_input_gradient=d_input_gradient), contexts))
        gans[-1].attach_optimizers()
    gan, lean = gans
    symG, symD = make_dcgan_sym(cfg.ngf, cfg.ndf, cfg.channels, image_size=cfg.image_size)
    size = cfg.image_size
    refG, refD = bind_example_modules(symG, symD, batch, cfg.nz, (cfg.channels, size, size), contexts)
    rng = np.random.default_rng(0)
    real = mx.nd.array(rng.uniform(-1, 1, (batch, cfg.channels, size, size)).astype(np.float32))
    z = mx.nd.array(rng.standard_normal((batch, cfg.nz, 1, 1)).astype(np.float32))
    labels = Labels.create(batch)

    def repeat(step: Callable[[], object]) -> Callable[[], None]:
        def steps() -> None:
            for _ in range(cfg.steps):
                step()
        return steps

    contenders = {
        "example loop as written (gradient copies, metrics read every step)":
            repeat(lambda: example_step(refG, refD, real, z, batch, read_metrics=True)),
        "+ grad_req='add' (no gradient copies), metrics every --log-every":
            repeat(lambda: train_step(gan.modG, gan.modD, StepInputs(real, [z]), labels)),
        "+ G update through a D view without weight gradients":
            repeat(lambda: train_step(gan.modG, gan.modD, StepInputs(real, [z]), labels, modD_G=gan.modD_G)),
        "+ D's own passes without the gradient of its input (mxgan)":
            repeat(lambda: train_step(lean.modG, lean.modD, StepInputs(real, [z]), labels, modD_G=lean.modD_G)),
    }
    seconds = interleaved(contenders, {name: mx.nd.waitall for name in contenders}, cfg.repeats)
    return {name: cfg.steps * batch / s for name, s in seconds.items()}


def recipe_steps(cfg: BenchConfig, batch: int) -> dict[str, float]:
    """images/s of a whole MNIST step under each recipe (its channels, G updates, EMA), in one process."""
    contexts = parse_ctx(cfg.ctx)
    rng = np.random.default_rng(0)
    z = mx.nd.array(rng.standard_normal((batch, cfg.nz, 1, 1)).astype(np.float32))
    labels = Labels.create(batch)
    contenders: dict[str, Callable[[], None]] = {}
    for name, recipe in RECIPES.items():
        channels, g_updates = recipe["channels"] or DATASET_CHANNELS["mnist"], recipe["g_steps"]
        mx.random.seed(0)
        gan = build_gan(GanSpec(batch, cfg.nz, cfg.ngf, cfg.ndf, channels, cfg.image_size, lr_g=recipe["lr_g"],
                                lr_d=recipe["lr_d"], beta1=recipe["beta1"], beta2=recipe["beta2"]), contexts)
        gan.attach_optimizers()
        ema = GeneratorEMA(gan.modG, recipe["ema_decay"]) if recipe["ema_decay"] else None
        real = mx.nd.array(rng.uniform(-1, 1, (batch, channels, cfg.image_size, cfg.image_size)).astype(np.float32))
        inputs, phases = StepInputs(real, [z] * g_updates), schedule(0, g_steps=g_updates)
        steps = functools.partial(_recipe_steps, gan, ema, inputs, labels, phases, cfg.steps)
        what = f"{channels} channel{'s' if channels > 1 else ''}, {g_updates} G update{'s' if g_updates > 1 else ''}"
        contenders[f"a step of --recipe {name} on MNIST ({what}{', EMA' if ema else ''})"] = steps
    seconds = interleaved(contenders, dict.fromkeys(contenders, mx.nd.waitall), cfg.repeats)
    return {name: cfg.steps * batch / s for name, s in seconds.items()}


def _recipe_steps(gan: GAN, ema: GeneratorEMA | None, inputs: StepInputs, labels: Labels, phases: tuple[str, ...],
                  count: int) -> None:
    for _ in range(count):
        train_step(gan.modG, gan.modD, inputs, labels, phases, gan.modD_G)
        if ema:
            ema.update()


def thread_variants(cfg: BenchConfig, batch: int) -> dict[str, float]:
    """mxgan's training images/s in child processes with MXNet's default threads and with
    OMP_NUM_THREADS = the cores (what the mxgan command sets)."""
    code = ("import json, sys; from mxgan.config import BenchConfig; "
            "from mxgan.bench.contenders import mxgan_contenders; from mxgan.bench.timing import interleaved; "
            "cfg = BenchConfig(**json.loads(sys.argv[1])); c, s = mxgan_contenders(cfg, int(sys.argv[2])); "
            "print(interleaved({'t': c['train']}, {'t': s['train']}, cfg.repeats)['t'])")
    speeds = {}
    for label, threads in (("MXNet's default (OMP_NUM_THREADS unset)", None),
                           (f"OMP_NUM_THREADS={available_cores()}", str(available_cores()))):
        env = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
        if threads:
            env["OMP_NUM_THREADS"] = threads
        out = subprocess.run([sys.executable, "-c", code, json.dumps(asdict(cfg)), str(batch)], env=env,
                             check=True, capture_output=True, text=True).stdout
        speeds[label] = cfg.steps * batch / float(out.strip().splitlines()[-1])
    return speeds


def data_pipeline(cfg: BenchConfig, batch: int, batches: int = 100) -> float:
    """MNIST images/s through the trainer's data path: uint8 batches -> float32 -> NDArray, prefetched."""
    images = load_images("mnist", Path(cfg.data_dir), cfg.image_size, seed=0)
    source = ImageBatches(images, batch, cfg.channels, seed=0)

    def run() -> None:
        for i, real in enumerate(prefetch(source.epoch(0))):
            mx.nd.array(real)
            if i + 1 == batches:
                break

    seconds = interleaved({"data": run}, {"data": mx.nd.waitall}, cfg.repeats)["data"]
    return batches * batch / seconds


def peak_rss_mb(cfg: BenchConfig) -> float:
    """Peak resident memory of a real MNIST training process at default settings, MB.

    Read as the child's own ``VmHWM``: ``getrusage(RUSAGE_CHILDREN)`` would report this
    (large) benchmark process instead, since a forked child's peak survives its exec.
    """
    code = ("import sys; from mxgan.cli import main; rc = main(sys.argv[1:]); "
            "print([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]); sys.exit(rc)")
    with tempfile.TemporaryDirectory() as out:
        env = {**os.environ, "MXGAN_DATA_DIR": cfg.data_dir}
        result = subprocess.run(
            [sys.executable, "-c", code, "train", "--dataset", "mnist", "--max-steps", str(cfg.rss_steps),
             "--no-progress", "--out", f"{out}/run", "--sample-every", "0"],
            env=env, check=True, capture_output=True, text=True,
        )
    kib = int(result.stdout.split("VmHWM:")[1].split()[0])
    return kib / 1024


def step_speeds(cfg: BenchConfig, batch: int) -> dict[str, dict[str, float]]:
    """images/s of each contender's each measure at ``batch``: mxgan alone in this process, or, with
    ``--compare torch``, mxgan and PyTorch's variants each in a process of its own (:mod:`mxgan.bench.race`)."""
    if cfg.compare == "torch":
        seconds = race([MXGAN, *TORCH], asdict(cfg), batch, cfg.repeats)
    else:
        seconds = {MXGAN: interleaved(*mxgan_contenders(cfg, batch), cfg.repeats)}
    return {name: {m: cfg.steps * batch / s for m, s in measures.items()} for name, measures in seconds.items()}


def run_throughput(cfg: BenchConfig) -> dict:
    """All measurements; a dict that ``print_table`` shows and ``--json`` saves."""
    flops = flops_per_training_image(cfg)
    gemm = gemm_gflops(cfg.gemm_size, cfg.repeats, bfloat16=cfg.dtype == "bfloat16")
    peak = max(v for k, v in gemm.items() if k != BFLOAT16_GEMM)
    rows = []
    for batch in cfg.batch_sizes:
        speeds = step_speeds(cfg, batch)
        mine = speeds[MXGAN]
        row = {"batch": batch, "mxgan_train": mine["train"], "mxgan_infer": mine["infer"],
               "wait_vs_queued": mine["train"] / mine["train, queued"],
               "ema_vs_train": mine["train+EMA"] / mine["train"], "train_gflops": mine["train"] * flops / 1e9}
        row["train_vs_gemm_peak"] = row["train_gflops"] / peak
        if BFLOAT16_GEMM in gemm:
            row["train_vs_bfloat16_gemm"] = row["train_gflops"] / gemm[BFLOAT16_GEMM]
        for name in TORCH if cfg.compare == "torch" else ():
            key = name.replace("torch.", "torch ").replace(" ", "_")
            row[key] = speeds[name]["train"]
            row[f"train_vs_{key}"] = mine["train"] / speeds[name]["train"]
            row[f"{key}_infer"] = speeds[name]["infer"]
            row[f"infer_vs_{key}"] = mine["infer"] / speeds[name]["infer"]
        if cfg.data_dir:
            row["data"] = data_pipeline(cfg, batch)
            row["data_vs_train"] = row["data"] / mine["train"]
        rows.append(row)
    variants = {}
    if cfg.variants:
        batch = cfg.batch_sizes[0]
        variants = {**step_variants(cfg, batch), **thread_variants(cfg, batch), **recipe_steps(cfg, batch)}
    return {
        "config": asdict(cfg), "threads": os.environ.get("OMP_NUM_THREADS"), "mxnet": mx.__version__,
        "torch": importlib.metadata.version("torch") if cfg.compare == "torch" else None,
        "cpu": cpu_model(), "variants": variants,
        "gflop_per_training_image": flops / 1e9, "gemm_gflops": gemm, "rows": rows,
        "peak_rss_mb_mnist_training": peak_rss_mb(cfg) if cfg.data_dir and cfg.rss_steps else None,
    }


def run_profile(cfg: BenchConfig) -> dict:
    """``--profile``: the step's time per operator (:mod:`mxgan.bench.profile`), next to the machine's GEMM."""
    return {"config": asdict(cfg), "cpu": cpu_model(), "threads": os.environ.get("OMP_NUM_THREADS"),
            "gemm_gflops": gemm_gflops(cfg.gemm_size, cfg.repeats),
            "profile": profile_step(asdict(cfg), cfg.batch_sizes[0], cfg.repeats * cfg.steps)}


def format_profile_result(result: dict) -> str:
    cfg = result["config"]
    title = (f"where a training step's time goes on {result['cpu']}, OMP_NUM_THREADS={result['threads']}: "
             f"{cfg['image_size']}x{cfg['image_size']}x{cfg['channels']}, batch {cfg['batch_sizes'][0]}, ngf "
             f"{cfg['ngf']}, ndf {cfg['ndf']}, {cfg['g_steps']} G update{'s' if cfg['g_steps'] > 1 else ''} a step")
    return format_profile(result["profile"], max(result["gemm_gflops"].values()), title)


COLUMNS = [  # (key, header, format)
    ("batch", "batch", "{:d}"), ("mxgan_train", "train img/s", "{:.1f}"), ("wait_vs_queued", "waited x", "{:.3f}"),
    ("ema_vs_train", "+EMA x", "{:.3f}"),
    ("torch_eager", "torch eager", "{:.1f}"), ("train_vs_torch_eager", "x eager", "{:.2f}"),
    ("torch_channels_last", "channels_last", "{:.1f}"), ("train_vs_torch_channels_last", "x", "{:.2f}"),
    ("torch_compile", "torch.compile", "{:.1f}"), ("train_vs_torch_compile", "x", "{:.2f}"),
    ("train_gflops", "GFLOP/s", "{:.1f}"), ("train_vs_gemm_peak", "x GEMM", "{:.2f}"),
    ("train_vs_bfloat16_gemm", "x bf16 GEMM", "{:.3f}"),
    ("mxgan_infer", "G img/s", "{:.1f}"), ("torch_eager_infer", "torch G", "{:.1f}"),
    ("infer_vs_torch_eager", "x torch", "{:.2f}"), ("data", "data img/s", "{:.0f}"),
    ("data_vs_train", "x train", "{:.1f}"),
]


def format_table(result: dict) -> str:
    cfg = result["config"]
    dtype = cfg.get("dtype", "float32")  # older results: float32
    torch_dtype = " (PyTorch under autocast bfloat16)" if dtype == "bfloat16" else ""
    lines = [
        f"mxgan throughput on {result['cpu']}: ctx {cfg['ctx']}, OMP_NUM_THREADS={result['threads']}, "
        f"{cfg['image_size']}x{cfg['image_size']}x{cfg['channels']}, nz {cfg['nz']}, "
        f"ngf {cfg['ngf']}, ndf {cfg['ndf']}, median of {cfg['repeats']} x {cfg['steps']} steps, dtype "
        f"{dtype}{torch_dtype}",
        f"training FLOPs per image: {result['gflop_per_training_image']:.2f} GFLOP; GEMM "
        f"{cfg['gemm_size']}^3: " + ", ".join(f"{k} {v:.0f} GFLOP/s" for k, v in result["gemm_gflops"].items()),
    ]
    columns = [c for c in COLUMNS if c[0] in result["rows"][0]]
    lines.append(" | ".join(h for _, h, _ in columns))
    for row in result["rows"]:
        lines.append(" | ".join(fmt.format(row[k]) for k, _, fmt in columns))
    if result["variants"]:
        lines.append(f"training step variants, batch {cfg['batch_sizes'][0]}, images/s:")
        lines += [f"  {speed:7.1f}  {name}" for name, speed in result["variants"].items()]
    if result["peak_rss_mb_mnist_training"] is not None:
        lines.append(f"peak RSS, MNIST training at default settings ({cfg['rss_steps']} steps): "
                     f"{result['peak_rss_mb_mnist_training']:.0f} MB")
    return "\n".join(lines)
