"""Build, initialize and equip with Adam the G and D modules of a run."""

from __future__ import annotations

import mxnet as mx

from mxgan.step import G_INPUT, bind_discriminator
from mxgan.symbols import make_dcgan_sym


def adam_params(lr: float, beta1: float, wd: float) -> dict:
    """The example's optimizer settings."""
    return {"learning_rate": lr, "beta1": beta1, "wd": wd}


def build_modules(
    contexts: list[mx.Context], batch_size: int, nz: int, ngf: int, ndf: int, channels: int,
    image_size: int, lr: float, beta1: float, wd: float, init_sigma: float,
) -> tuple[mx.mod.Module, mx.mod.Module]:
    """G and D bound on ``contexts``, initialized with Normal(``init_sigma``), with Adam.

    Seed ``mx.random`` beforehand for repeatable weights.
    """
    symG, symD = make_dcgan_sym(ngf, ndf, channels, image_size=image_size)
    init = mx.init.Normal(init_sigma)

    modG = mx.mod.Module(symG, data_names=(G_INPUT,), label_names=None, context=contexts)
    modG.bind(data_shapes=[(G_INPUT, (batch_size, nz, 1, 1))])
    modG.init_params(initializer=init)
    modG.init_optimizer(optimizer="adam", optimizer_params=adam_params(lr, beta1, wd))

    modD = bind_discriminator(symD, (batch_size, channels, image_size, image_size), contexts)
    modD.init_params(initializer=init)
    modD.init_optimizer(optimizer="adam", optimizer_params=adam_params(lr, beta1, wd))
    return modG, modD
