"""mxgan's training step and generator as the benchmarks time them, from the same weights every time."""

from __future__ import annotations

from collections.abc import Callable

import mxnet as mx
import numpy as np

from mxgan.checkpoints.module_format import standard_params
from mxgan.config import RECIPES, BenchConfig
from mxgan.inference.sampling import bind_generator, forward
from mxgan.model.modules import GAN, GanSpec, build_gan
from mxgan.model.symbols import make_dcgan_sym
from mxgan.runtime.devices import parse_ctx
from mxgan.training.ema import GeneratorEMA
from mxgan.training.step import Labels, StepInputs, StepOutputs, schedule, train_step


def training_step(cfg: BenchConfig, batch: int, d_input_gradient: bool = False,
                  ) -> tuple[Callable[[], StepOutputs], GAN]:
    """A training step of ``cfg``'s networks (``cfg.g_steps`` G updates) as the trainer runs it, host arrays in,
    and the networks it trains. The step returns once it is queued: wait on its outputs."""
    contexts = parse_ctx(cfg.ctx)
    mx.random.seed(0)
    gan = build_gan(GanSpec(batch, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size, dtype=cfg.dtype,
                            d_input_gradient=d_input_gradient), contexts)
    gan.attach_optimizers()
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, (batch, cfg.channels, cfg.image_size, cfg.image_size)).astype(np.float32)
    z = rng.standard_normal((batch, cfg.nz, 1, 1)).astype(np.float32)
    labels, phases = Labels.create(batch), schedule(0, g_steps=cfg.g_steps)

    def step() -> StepOutputs:
        inputs = StepInputs(mx.nd.array(real), [mx.nd.array(z) for _ in range(cfg.g_steps)])
        return train_step(gan.modG, gan.modD, inputs, labels, phases, gan.modD_G)

    return step, gan


def mxgan_contenders(cfg: BenchConfig, batch: int) -> tuple[dict, dict]:
    """mxgan's timed blocks of ``cfg.steps`` steps (or forwards), and how to wait for each:

    - ``train``: as the trainer runs a step: host arrays in, then a wait for the step's last output;
    - ``train, queued``: the same steps queued back to back, unwaited (what the wait costs);
    - ``train+EMA``: ``train`` with ``--ema-decay``'s update after each step;
    - ``infer``: the generator in inference mode.
    """
    step, gan = training_step(cfg, batch)
    arg, aux = standard_params(gan.modG)  # a 1-channel G trains padded to 2 filters
    symG, _ = make_dcgan_sym(cfg.ngf, cfg.ndf, cfg.channels, image_size=cfg.image_size)
    inference = bind_generator(symG, arg, aux, batch, cfg.nz, parse_ctx(cfg.ctx))
    z = np.random.default_rng(0).standard_normal((batch, cfg.nz, 1, 1)).astype(np.float32)
    ema = GeneratorEMA(gan.modG, RECIPES["default"]["ema_decay"] or 0.999)

    def train() -> None:
        for _ in range(cfg.steps):
            step().wait()

    def train_queued() -> None:
        for _ in range(cfg.steps):
            step()

    def train_with_ema() -> None:
        for _ in range(cfg.steps):
            step().wait()
            ema.update()

    def infer() -> None:
        for _ in range(cfg.steps):
            forward(inference, z)

    contenders = {"train": train, "train, queued": train_queued, "train+EMA": train_with_ema, "infer": infer}
    return contenders, dict.fromkeys(contenders, mx.nd.waitall)
