"""Build, initialize and equip with Adam the G and D modules of a run."""

from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx

from mxgan.step import CLASSES, G_INPUT, bind_discriminator, bind_input_gradient_module
from mxgan.symbols import (
    COND,
    make_discriminator_sym,
    make_generator_sym,
    pad_single_filter_params,
    unpad_single_filter_params,
)


@dataclass
class GAN:
    """The two modules of a run and the Adam instances that update them.

    mxgan creates the optimizers itself so that it can save and restore their
    per-parameter update counts (Adam's bias-correction step ``t``), which
    ``Module.save_optimizer_states`` leaves out.
    """

    modG: mx.mod.Module
    modD: mx.mod.Module
    optG: mx.optimizer.Optimizer
    optD: mx.optimizer.Optimizer
    modD_G: mx.mod.Module  # D sharing modD's weights, computing only its input gradient (the G update)

    def attach_optimizers(self) -> None:
        """Give both modules their Adam. Call after any ``set_params``: with several devices the
        kvstore keeps the weights it sees here as master copies, and would overwrite later ones."""
        self.modG.init_optimizer(optimizer=self.optG)
        self.modD.init_optimizer(optimizer=self.optD)


def adam(lr: float, beta1: float, wd: float, batch_size: int, dtype: str = "float32") -> mx.optimizer.Optimizer:
    """The example's Adam, with the gradient rescaling Module would choose (1 / batch size).

    For float16 weights it updates float32 master copies (``multi_precision``).
    """
    return mx.optimizer.create("adam", learning_rate=lr, beta1=beta1, wd=wd, rescale_grad=1.0 / batch_size,
                               multi_precision=dtype == "float16")


def build_gan(
    contexts: list[mx.Context], batch_size: int, nz: int, ngf: int, ndf: int, channels: int,
    image_size: int, lr: float, beta1: float, wd: float, init_sigma: float, fix_gamma_G: bool = True,
    dtype: str = "float32", cudnn_tune: str | None = None, conditional: bool = False,
) -> GAN:
    """G and D bound on ``contexts``, initialized with Normal(``init_sigma``); Adam not yet attached.

    Seed ``mx.random`` beforehand for repeatable weights. A 1-channel G trains
    with its last layer padded to 2 filters (an MKLDNN bug; see
    :func:`mxgan.symbols.pad_single_filter_params`): its second filter starts,
    and stays, at zero. ``fix_gamma_G=False`` trains G's BatchNorm gamma, for
    checkpoints (Gluon's) that learned it. ``dtype='float16'`` (GPU) makes the
    inputs, convolution weights and activations half precision; BatchNorm's
    parameters stay float32 (MXNet's type inference) and Adam keeps float32
    master weights. On several devices BatchNorm is synchronized across them,
    so the split does not change the result.
    """
    symG = make_generator_sym(ngf, channels, fix_gamma=fix_gamma_G, image_size=image_size, pad_single_filter=True,
                              cudnn_tune=cudnn_tune, conditional=conditional, devices=len(contexts))
    symD = make_discriminator_sym(ndf, image_size=image_size, cudnn_tune=cudnn_tune, conditional=conditional,
                                  devices=len(contexts))
    init = mx.init.Normal(init_sigma)

    cond = [mx.io.DataDesc(COND, (batch_size, CLASSES, 1, 1), dtype=dtype)] if conditional else []
    modG = mx.mod.Module(symG, data_names=[G_INPUT] + [d.name for d in cond], label_names=None, context=contexts)
    modG.bind(data_shapes=[mx.io.DataDesc(G_INPUT, (batch_size, nz, 1, 1), dtype=dtype), *cond])
    modG.init_params(initializer=init)
    set_generator_params(modG, *modG.get_params())

    modD = bind_discriminator(symD, (batch_size, channels, image_size, image_size), contexts, dtype, conditional)
    modD.init_params(initializer=init)
    return GAN(modG, modD, adam(lr, beta1, wd, batch_size, dtype), adam(lr, beta1, wd, batch_size, dtype),
               bind_input_gradient_module(modD, contexts))


def set_generator_params(modG: mx.mod.Module, arg_params: dict, aux_params: dict) -> None:
    """Set G's parameters from standard-shape ones (padding a 1-channel last layer with a zero filter)."""
    standard = unpad_single_filter_params(modG.symbol, arg_params)
    modG.set_params(pad_single_filter_params(modG.symbol, standard), aux_params)
