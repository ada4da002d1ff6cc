"""The checkpoint fixtures, made at test time by stock MXNet code: the four formats other MXNet code writes.

CI's machine keeps a copy at ``../shared/fixtures/checkpoints`` (64 filters wide, trained a few steps on MNIST);
a clone anywhere else has none, so the tests make their own here. What makes a fixture worth having is that
*stock* MXNet wrote it and *stock* MXNet computed its expected output, so nothing below imports mxgan: the
networks are MXNet's own examples (``example/gan/dcgan.py`` for the Module API, ``example/gluon/dc_gan`` for
Gluon), saved with the calls those examples and their users make. The layout, the file names and the latent
batch (``numpy.random.RandomState(7).randn``) are the shared copy's; only the width differs (the tests use 8
filters: a 64 px generator of that width is 0.6 MB, made in well under a second).

``cached(root, ngf)`` makes a set once under ``root`` (the tests give it ``.pytest_cache``) and reuses it in later
sessions: the folder's name carries a hash of this file, so a change here makes a new set.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

NZ, NC, IMAGE_SIZE = 100, 3, 64  # the shared copy's; MXNet's example/gan/dcgan.py is 64 px only
BATCH, SEED = 16, 7  # z.npy: numpy.random.RandomState(SEED).randn(BATCH, NZ, 1, 1), as the shared copy's

# folder -> the files of its checkpoint, as the stock code names them
MODULE_G = "module_save_params/mnist_G_2017_10_09-10_00-0000.params"  # example/gan/dcgan.py: <dataset>_G_<stamp>
MODULE_D = "module_save_params/mnist_D_2017_10_09-10_00-0000.params"
MODEL_PREFIX = "model_save_checkpoint/dcgan_G"  # + -symbol.json and -0003.params
GLUON_G = "gluon_save_parameters/generator_epoch_0.params"  # example/gluon/dc_gan's name
GLUON_COLLECT_G = "gluon_collect_params_save/netG.params"
FOLDERS = ("module_save_params", "model_save_checkpoint", "gluon_save_parameters", "gluon_collect_params_save")


def example_symbols(ngf: int, ndf: int, nc: int, no_bias: bool = True, fix_gamma: bool = True,
                    eps: float = 1e-5 + 1e-12):
    """G and D (with its loss) of MXNet's example/gan/dcgan.py, ``make_dcgan_sym`` as the example writes it."""
    import mxnet as mx

    BatchNorm = mx.sym.BatchNorm
    rand = mx.sym.Variable("rand")

    g1 = mx.sym.Deconvolution(rand, name="g1", kernel=(4, 4), num_filter=ngf * 8, no_bias=no_bias)
    gbn1 = BatchNorm(g1, name="gbn1", fix_gamma=fix_gamma, eps=eps)
    gact1 = mx.sym.Activation(gbn1, name="gact1", act_type="relu")

    g2 = mx.sym.Deconvolution(gact1, name="g2", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ngf * 4,
                              no_bias=no_bias)
    gbn2 = BatchNorm(g2, name="gbn2", fix_gamma=fix_gamma, eps=eps)
    gact2 = mx.sym.Activation(gbn2, name="gact2", act_type="relu")

    g3 = mx.sym.Deconvolution(gact2, name="g3", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ngf * 2,
                              no_bias=no_bias)
    gbn3 = BatchNorm(g3, name="gbn3", fix_gamma=fix_gamma, eps=eps)
    gact3 = mx.sym.Activation(gbn3, name="gact3", act_type="relu")

    g4 = mx.sym.Deconvolution(gact3, name="g4", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ngf,
                              no_bias=no_bias)
    gbn4 = BatchNorm(g4, name="gbn4", fix_gamma=fix_gamma, eps=eps)
    gact4 = mx.sym.Activation(gbn4, name="gact4", act_type="relu")

    g5 = mx.sym.Deconvolution(gact4, name="g5", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=nc,
                              no_bias=no_bias)
    gout = mx.sym.Activation(g5, name="gact5", act_type="tanh")

    data = mx.sym.Variable("data")
    label = mx.sym.Variable("label")

    d1 = mx.sym.Convolution(data, name="d1", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ndf,
                            no_bias=no_bias)
    dact1 = mx.sym.LeakyReLU(d1, name="dact1", act_type="leaky", slope=0.2)

    d2 = mx.sym.Convolution(dact1, name="d2", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ndf * 2,
                            no_bias=no_bias)
    dbn2 = BatchNorm(d2, name="dbn2", fix_gamma=fix_gamma, eps=eps)
    dact2 = mx.sym.LeakyReLU(dbn2, name="dact2", act_type="leaky", slope=0.2)

    d3 = mx.sym.Convolution(dact2, name="d3", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ndf * 4,
                            no_bias=no_bias)
    dbn3 = BatchNorm(d3, name="dbn3", fix_gamma=fix_gamma, eps=eps)
    dact3 = mx.sym.LeakyReLU(dbn3, name="dact3", act_type="leaky", slope=0.2)

    d4 = mx.sym.Convolution(dact3, name="d4", kernel=(4, 4), stride=(2, 2), pad=(1, 1), num_filter=ndf * 8,
                            no_bias=no_bias)
    dbn4 = BatchNorm(d4, name="dbn4", fix_gamma=fix_gamma, eps=eps)
    dact4 = mx.sym.LeakyReLU(dbn4, name="dact4", act_type="leaky", slope=0.2)

    d5 = mx.sym.Convolution(dact4, name="d5", kernel=(4, 4), num_filter=1, no_bias=no_bias)
    d5 = mx.sym.Flatten(d5)

    dloss = mx.sym.LogisticRegressionOutput(data=d5, label=label, name="dloss")
    return gout, dloss


def example_gluon_generator(ngf: int, nc: int):
    """netG of MXNet's example/gluon/dc_gan (64 px), named as in a fresh process (``sequential0_...``)."""
    import mxnet as mx

    nn = mx.gluon.nn
    # Gluon numbers its blocks with a process-wide counter: a fresh NameManager gives the names the example
    # saves when it runs on its own, whatever networks this process built before
    with mx.name.NameManager():
        netG = nn.Sequential()
    with netG.name_scope():
        netG.add(nn.Conv2DTranspose(ngf * 8, 4, 1, 0, use_bias=False))
        netG.add(nn.BatchNorm())
        netG.add(nn.Activation("relu"))
        netG.add(nn.Conv2DTranspose(ngf * 4, 4, 2, 1, use_bias=False))
        netG.add(nn.BatchNorm())
        netG.add(nn.Activation("relu"))
        netG.add(nn.Conv2DTranspose(ngf * 2, 4, 2, 1, use_bias=False))
        netG.add(nn.BatchNorm())
        netG.add(nn.Activation("relu"))
        netG.add(nn.Conv2DTranspose(ngf, 4, 2, 1, use_bias=False))
        netG.add(nn.BatchNorm())
        netG.add(nn.Activation("relu"))
        netG.add(nn.Conv2DTranspose(nc, 4, 2, 1, use_bias=False))
        netG.add(nn.Activation("tanh"))
    return netG


def _values(shapes: dict[str, tuple[int, ...]], rng: np.random.Generator, *, transposed: bool,
            learned_gamma: bool) -> dict[str, np.ndarray]:
    """Weights as a few training steps leave them, chosen so that a loader's slip shows in the output.

    Kernels are scaled by their fan-in (He's sqrt(2 / fan-in)), so every layer's output stays near unit size and
    the final tanh does not saturate: a saturated image is +-1 whatever a loader did. BatchNorm's statistics are
    far from the initial 0 and 1 and its beta from 0, so a loader that drops or swaps them moves the output by
    about 0.1, a thousand times the tests' tolerance. gamma is learned only in Gluon: the Module example fixes it
    (``fix_gamma``), and its files hold the 1 its initializer wrote."""
    values = {}
    for name, shape in shapes.items():
        if name.endswith("weight"):
            # one output pixel of a 4x4 kernel sums: a deconvolution (in, out, 4, 4) its inputs over the single
            # tap a 1x1 input (z) reaches, or over 4 taps at stride 2; a convolution (out, in, 4, 4) over 16 taps
            fan_in = shape[0] * (1 if shape[0] == NZ else 4) if transposed else shape[1] * 16
            values[name] = rng.normal(0, np.sqrt(2 / fan_in), shape)
        elif name.endswith("gamma"):
            values[name] = rng.uniform(0.5, 1.5, shape) if learned_gamma else np.ones(shape)
        elif name.endswith("var"):  # moving_var, running_var
            values[name] = rng.uniform(0.5, 1.5, shape)
        else:  # beta, moving_mean, running_mean
            values[name] = rng.normal(0, 0.3, shape)
    return {name: value.astype(np.float32) for name, value in values.items()}


def _module(symbol, shapes: dict[str, tuple[int, ...]], rng: np.random.Generator, *, transposed: bool):
    """A bound ``mx.mod.Module`` of ``symbol`` (inference), initialised as the example does, then given
    :func:`_values` through ``set_params``."""
    import mxnet as mx

    label_names = [name for name in shapes if name == "label"]
    mod = mx.mod.Module(symbol, data_names=[n for n in shapes if n != "label"], label_names=label_names or None)
    mod.bind(data_shapes=[(n, s) for n, s in shapes.items() if n != "label"],
             label_shapes=[(n, shapes[n]) for n in label_names] or None, for_training=False)
    mod.init_params(mx.init.Normal(0.02))  # the example's initializer, replaced below
    arg, aux = mod.get_params()
    values = _values({name: array.shape for name, array in {**arg, **aux}.items()}, rng, transposed=transposed,
                     learned_gamma=False)
    mod.set_params({n: mx.nd.array(values[n]) for n in arg}, {n: mx.nd.array(values[n]) for n in aux})
    return mod


def make(folder: Path, ngf: int = 8) -> None:
    """Write the four fixture folders into ``folder`` (which exists), each with ``z.npy`` and ``expected.npy``
    (the generator's output for z in inference mode, as stock MXNet computes it), and ``fixture.json``. D is
    ``ngf`` wide too, as in the shared copy; ``module_save_params`` also gets ``scores.npy``: stock D's P(real) for
    ``expected.npy``'s images."""
    import mxnet as mx

    rng = np.random.default_rng(SEED)
    z = np.random.RandomState(SEED).randn(BATCH, NZ, 1, 1).astype(np.float32)
    symG, symD = example_symbols(ngf, ngf, NC)

    # the Module API: example/gan/dcgan.py saves G and D each epoch with save_params; mx.model.save_checkpoint
    # (what Module.save_checkpoint calls) adds the symbol file
    modG = _module(symG, {"rand": (BATCH, NZ, 1, 1)}, rng, transposed=True)
    modD = _module(symD, {"data": (BATCH, NC, IMAGE_SIZE, IMAGE_SIZE), "label": (BATCH,)}, rng, transposed=False)
    for name in FOLDERS:
        (folder / name).mkdir()
    modG.save_params(str(folder / MODULE_G))
    modD.save_params(str(folder / MODULE_D))
    arg, aux = modG.get_params()
    mx.model.save_checkpoint(str(folder / MODEL_PREFIX), 3, symG, arg, aux)
    modG.forward(mx.io.DataBatch([mx.nd.array(z)]), is_train=False)
    expected_module = modG.get_outputs()[0].asnumpy()
    modD.forward(mx.io.DataBatch([mx.nd.array(expected_module)], [mx.nd.zeros((BATCH,))]), is_train=False)
    np.save(folder / "module_save_params" / "scores.npy", modD.get_outputs()[0].asnumpy().ravel())

    # Gluon: the example's netG.save_parameters, and the older collect_params().save (full names)
    netG = example_gluon_generator(ngf, NC)
    netG.initialize(mx.init.Normal(0.02))  # the example's initializer, replaced below
    netG(mx.nd.zeros((1, NZ, 1, 1)))  # shapes are inferred on the first call
    params = netG.collect_params()
    values = _values({name: p.shape for name, p in params.items()}, rng, transposed=True, learned_gamma=True)
    for name, p in params.items():
        p.set_data(mx.nd.array(values[name]))
    netG.save_parameters(str(folder / GLUON_G))
    params.save(str(folder / GLUON_COLLECT_G))
    expected_gluon = netG(mx.nd.array(z)).asnumpy()  # outside autograd.record: BatchNorm on its running statistics

    for name, expected in zip(FOLDERS, (expected_module, expected_module, expected_gluon, expected_gluon)):
        np.save(folder / name / "z.npy", z)
        np.save(folder / name / "expected.npy", expected)
    spec = {"ngf": ngf, "ndf": ngf, "nc": NC, "nz": NZ, "image_size": IMAGE_SIZE, "seed": SEED,
            "mxnet": mx.__version__, "made_by": "tests/stock_checkpoints.py"}
    (folder / "fixture.json").write_text(json.dumps(spec, indent=1) + "\n")


def cached(root: Path, ngf: int = 8) -> Path:
    """The fixture set of width ``ngf`` under ``root``, made on first use; its folder name carries a hash of this
    file, so an edit here makes a new set instead of reusing a stale one."""
    key = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    final = root / f"ngf{ngf}-{key}"
    if (final / "fixture.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".ngf{ngf}-", dir=root))
    try:
        make(work, ngf)
        for file in work.rglob("*"):  # read-only, like the shared copy: a test that writes into it fails
            if file.is_file():
                file.chmod(0o444)
        # the set appears whole or not at all: a session stopped half-way leaves only its hidden work folder, and
        # of two sessions making it at once (both under one .pytest_cache), the second's rename fails and it
        # takes the first one's set
        os.rename(work, final)
    except OSError:
        if not (final / "fixture.json").is_file():
            raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final
