"""Build, initialize and equip with Adam the G and D modules of a run."""

from __future__ import annotations

from dataclasses import dataclass

import mxnet as mx

from mxgan.constants import CLASSES, D_INPUT, D_LABEL, G_INPUT
from mxgan.model.precision import in_bfloat16
from mxgan.model.symbols import (
    COND,
    make_discriminator_sym,
    make_generator_sym,
    pad_single_filter_params,
    unpad_single_filter_params,
)
from mxgan.runtime.compat import adam_in_kvstore
from mxgan.runtime.precision import array_dtype


def one_hot(classes, dtype: str = "float32") -> mx.nd.NDArray:
    """Class indices (N,) as the ``cond`` input of a conditional model, (N, CLASSES, 1, 1)."""
    return mx.nd.one_hot(mx.nd.array(classes), CLASSES, dtype=dtype).reshape((-1, CLASSES, 1, 1))


def bind_discriminator(
    symD: mx.sym.Symbol, batch_shape: tuple[int, ...], contexts: list[mx.Context], dtype: str = "float32",
    conditional: bool = False, input_gradient: bool = False, bfloat16: bool = False,
) -> mx.mod.Module:
    """D bound for training, its parameter gradients summed over several passes.

    Parameter gradients use ``grad_req='add'`` so that several backward passes
    sum (see :func:`accumulate_gradients`), except in a bfloat16 D (``bfloat16``), whose
    ``amp_cast`` nodes ignore ``'add'`` in MXNet 1.9.1: ``'write'``, summed by hand. D's own update needs no gradient of
    its input: G's update gets it from :func:`bind_input_gradient_module`'s view.
    ``input_gradient`` computes it here too (``'write'``: the last pass's alone),
    for a step that pushes G through this module itself.
    """
    inputs = (D_INPUT, COND) if conditional else (D_INPUT,)
    modD = mx.mod.Module(symD, data_names=inputs, label_names=(D_LABEL,), context=contexts)
    params = [n for n in symD.list_arguments() if n not in (*inputs, D_LABEL)]
    cond_shape = [mx.io.DataDesc(COND, (batch_shape[0], CLASSES, 1, 1), dtype=dtype)] if conditional else []
    modD.bind(
        data_shapes=[mx.io.DataDesc(D_INPUT, batch_shape, dtype=dtype), *cond_shape],
        label_shapes=[mx.io.DataDesc(D_LABEL, (batch_shape[0],), dtype=dtype)],
        inputs_need_grad=input_gradient,
        grad_req={name: "write" if bfloat16 else "add" for name in params},
    )
    return modD


def bind_input_gradient_module(modD: mx.mod.Module, contexts: list[mx.Context]) -> mx.mod.Module:
    """A view of D that computes only the gradient of its input, for the G update.

    It shares ``modD``'s parameters and BatchNorm statistics (``shared_module``)
    but requests no parameter gradients: the G step needs D's input gradient
    alone, and skipping D's weight gradients there saves about 8% of a step's
    work at 64 px, with bit-identical results.
    """
    symD = modD.symbol
    params = [n for n in symD.list_arguments() if n not in (*modD.data_names, D_LABEL)]
    modD_G = mx.mod.Module(symD, data_names=modD.data_names, label_names=(D_LABEL,), context=contexts)
    modD_G.bind(data_shapes=modD.data_shapes, label_shapes=modD.label_shapes, inputs_need_grad=True,
                grad_req={name: "null" for name in params}, shared_module=modD)
    return modD_G


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

    def attach_optimizers(self, kvstore: object = "local", workers: int = 1) -> None:
        """Give both modules their Adam. Call after any ``set_params``: with several devices the
        kvstore keeps the weights it sees here as master copies, and would overwrite later ones.

        ``kvstore``: a local kvstore's name, or the one dist kvstore of this
        worker (G and D share it: their parameter names differ). dist_sync
        sums the ``workers``' gradients and each worker runs Adam on the sum;
        dist_async runs Adam on the servers (one optimizer for both: G's and
        D's Adam have the same settings).
        """
        kind = getattr(kvstore, "type", kvstore)
        if kind == "dist_sync":
            for opt in (self.optG, self.optD):  # the gradient summed over the workers' batches
                opt.rescale_grad /= workers
        # Adam in the kvstore (MXNet's default) for several local devices and dist_async; in each
        # dist_sync worker, on the gradients the servers summed
        with adam_in_kvstore(kind != "dist_sync"):
            self.modG.init_optimizer(kvstore=kvstore, optimizer=self.optG)
            self.modD.init_optimizer(kvstore=kvstore, optimizer=self.optD)


def adam(lr: float, beta1: float, wd: float, batch_size: int, dtype: str = "float32",
         beta2: float = 0.999) -> mx.optimizer.Optimizer:
    """The example's Adam, with the gradient rescaling Module would choose (1 / batch size).

    For float16 weights it updates float32 master copies (``multi_precision``).
    """
    return mx.optimizer.create("adam", learning_rate=lr, beta1=beta1, beta2=beta2, wd=wd,
                               rescale_grad=1.0 / batch_size, multi_precision=dtype == "float16")


@dataclass(frozen=True)
class GanSpec:
    """Everything that builds a run's G and D and their Adam: made once from the run's options (and the
    checkpoints it starts from), then only read."""

    batch_size: int
    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    channels: int = 3
    image_size: int = 64
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    wd: float = 0.0
    init_sigma: float = 0.02
    fix_gamma_G: bool = True  # False: G's BatchNorm learns gamma (a Gluon checkpoint's)
    fix_gamma_D: bool = True
    dtype: str = "float32"
    cudnn_tune: str | None = None
    conditional: bool = False
    d_input_gradient: bool = False  # D itself computes the gradient of its input (see bind_discriminator)


def build_gan(spec: GanSpec, contexts: list[mx.Context]) -> GAN:
    """G and D of ``spec`` bound on ``contexts``, initialized with Normal(``init_sigma``); Adam not yet attached.

    Seed ``mx.random`` beforehand for repeatable weights. A 1-channel G trains
    with its last layer padded to 2 filters (an MKLDNN bug; see
    :func:`mxgan.model.symbols.pad_single_filter_params`): its second filter starts,
    and stays, at zero. ``dtype='float16'`` (GPU) makes the inputs, convolution
    weights and activations half precision; BatchNorm's parameters stay float32
    (MXNet's type inference) and Adam keeps float32 master weights. ``dtype='bfloat16'`` (CPU) computes D's
    convolutions in bfloat16 on float32 weights (:func:`mxgan.model.precision.in_bfloat16`); G stays float32
    (docs/traps.md says why). On several devices BatchNorm is synchronized across them, so the split does not
    change the result.
    """
    symG = make_generator_sym(spec.ngf, spec.channels, fix_gamma=spec.fix_gamma_G, image_size=spec.image_size,
                              pad_single_filter=True, cudnn_tune=spec.cudnn_tune, conditional=spec.conditional,
                              devices=len(contexts))
    symD = make_discriminator_sym(spec.ndf, fix_gamma=spec.fix_gamma_D, image_size=spec.image_size,
                                  cudnn_tune=spec.cudnn_tune, conditional=spec.conditional, devices=len(contexts))
    if spec.dtype == "bfloat16":
        symD = in_bfloat16(symD)
    init, batch_size, dtype = mx.init.Normal(spec.init_sigma), spec.batch_size, array_dtype(spec.dtype)

    cond = [mx.io.DataDesc(COND, (batch_size, CLASSES, 1, 1), dtype=dtype)] if spec.conditional else []
    modG = mx.mod.Module(symG, data_names=[G_INPUT] + [d.name for d in cond], label_names=None, context=contexts)
    modG.bind(data_shapes=[mx.io.DataDesc(G_INPUT, (batch_size, spec.nz, 1, 1), dtype=dtype), *cond])
    modG.init_params(initializer=init)
    set_generator_params(modG, *modG.get_params())

    modD = bind_discriminator(symD, (batch_size, spec.channels, spec.image_size, spec.image_size), contexts, dtype,
                              spec.conditional, spec.d_input_gradient, bfloat16=spec.dtype == "bfloat16")
    modD.init_params(initializer=init)
    optG = adam(spec.lr_g, spec.beta1, spec.wd, batch_size, dtype, spec.beta2)
    optD = adam(spec.lr_d, spec.beta1, spec.wd, batch_size, dtype, spec.beta2)
    return GAN(modG, modD, optG, optD, bind_input_gradient_module(modD, contexts))


def set_generator_params(modG: mx.mod.Module, arg_params: dict, aux_params: dict) -> None:
    """Set G's parameters from standard-shape ones (padding a 1-channel last layer with a zero filter)."""
    standard = unpad_single_filter_params(modG.symbol, arg_params)
    modG.set_params(pad_single_filter_params(modG.symbol, standard), aux_params)
