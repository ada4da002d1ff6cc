"""Build, initialize and equip with Adam the G and D modules of a run."""

from __future__ import annotations

import mxnet as mx

from mxgan.step import G_INPUT, bind_discriminator
from mxgan.symbols import make_dcgan_sym, pad_single_filter_params, unpad_single_filter_params


def adam_params(lr: float, beta1: float, wd: float) -> dict:
    """The example's optimizer settings."""
    return {"learning_rate": lr, "beta1": beta1, "wd": wd}


def build_modules(
    contexts: list[mx.Context], batch_size: int, nz: int, ngf: int, ndf: int, channels: int,
    image_size: int, lr: float, beta1: float, wd: float, init_sigma: float,
) -> tuple[mx.mod.Module, mx.mod.Module]:
    """G and D bound on ``contexts``, initialized with Normal(``init_sigma``), with Adam.

    Seed ``mx.random`` beforehand for repeatable weights. A 1-channel G trains
    with its last layer padded to 2 filters (an MKLDNN bug; see
    :func:`mxgan.symbols.pad_single_filter_params`): its second filter starts,
    and stays, at zero.
    """
    symG, symD = make_dcgan_sym(ngf, ndf, channels, image_size=image_size, pad_single_filter=True)
    init = mx.init.Normal(init_sigma)

    modG = mx.mod.Module(symG, data_names=(G_INPUT,), label_names=None, context=contexts)
    modG.bind(data_shapes=[(G_INPUT, (batch_size, nz, 1, 1))])
    modG.init_params(initializer=init)
    _zero_padding_filter(modG)
    modG.init_optimizer(optimizer="adam", optimizer_params=adam_params(lr, beta1, wd))

    modD = bind_discriminator(symD, (batch_size, channels, image_size, image_size), contexts)
    modD.init_params(initializer=init)
    modD.init_optimizer(optimizer="adam", optimizer_params=adam_params(lr, beta1, wd))
    return modG, modD


def _zero_padding_filter(modG: mx.mod.Module) -> None:
    """Zero the unused second filter of a padded 1-channel G (a no-op otherwise)."""
    arg_params, aux_params = modG.get_params()
    standard = unpad_single_filter_params(modG.symbol, arg_params)
    if standard is not arg_params:
        modG.set_params(pad_single_filter_params(modG.symbol, standard), aux_params)
