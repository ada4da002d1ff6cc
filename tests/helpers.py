"""Helpers the tests share: real processes of the CLI, the data folder, the checkpoint fixtures, deadlines."""

from __future__ import annotations

import functools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# CI's machine keeps checkpoints written by stock MXNet beside the checkout; a clone anywhere else has none, so
# the tests make their own (fixtures()) and check this copy only in addition, where it exists
SHARED_FIXTURES = REPO.parent / "shared" / "fixtures" / "checkpoints"
# where fixtures() keeps the sets it makes: pytest's cache folder (.pytest_cache/d/NAME is its layout for a
# plugin's folder), so later sessions reuse them and `pytest --cache-clear` drops them
FIXTURE_CACHE = REPO / ".pytest_cache" / "d" / "stock-checkpoints"


TINY_NETWORK = ("--image-size", "16", "--ngf", "8", "--ndf", "8")  # the tests' network: 16 px, 8 filters


def tiny(batch_size: int = 1000, *more: str, dataset: str = "synthetic", progress: bool = False) -> list[str]:
    """The flags of the tests' tiny network (:data:`TINY_NETWORK`) on ``dataset``, with ``more`` flags after them
    (a later flag wins): the one set every test of a training run starts from."""
    flags = [*TINY_NETWORK, "--batch-size", str(batch_size)]
    return [*(["--dataset", dataset] if dataset else []), *flags, *([] if progress else ["--no-progress"]), *more]


def data_dir() -> Path:
    """The folder holding mnist/: $MXGAN_DATA_DIR (CI sets ../shared/data), else the repo's data/."""
    return Path(os.environ.get("MXGAN_DATA_DIR") or REPO / "data").resolve()


def mnist_data_dir() -> Path:
    """:func:`data_dir`, for a test that needs MNIST in it: where MNIST is missing, the test is skipped with how to
    get it (a clone without the data is not broken; its MNIST tests just cannot run)."""
    folder = data_dir()
    if not (folder / "mnist").is_dir():
        pytest.skip(f"MNIST not found at {folder / 'mnist'}; run `mxgan download mnist` or set MXGAN_DATA_DIR")
    return folder


@functools.cache  # one set per session, even if stock_checkpoints.py is edited while the session runs
def fixtures(ngf: int = 8) -> Path:
    """Checkpoints in the four formats other MXNet code writes, each folder with ``z.npy`` and ``expected.npy``,
    written and computed by stock MXNet (``tests/stock_checkpoints.py``), laid out and named as CI's shared copy.
    Made on first use (a tenth of a second at 8 filters) under :data:`FIXTURE_CACHE`, then reused by later
    sessions. ``fixtures(64)``: the shared copy's width, for a test that needs a generator that takes its time."""
    from stock_checkpoints import cached

    return cached(FIXTURE_CACHE, ngf)


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run ``python run_dcgan.py`` or ``python -m mxgan`` (as the ``mxgan`` command starts) in a real process."""
    full_env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def run_main(*args: str) -> subprocess.CompletedProcess:
    """The CLI in this process, for its refusals (no process start-up: ~2 s less a call); like :func:`run_cli`,
    whose arguments it takes (``run_dcgan.py ...`` or ``-m mxgan COMMAND ...``). The environment is put back
    afterwards, so the settings made before MXNet loads do not leak into later processes."""
    import contextlib
    import io

    from mxgan.cli import main

    assert args[0] == "run_dcgan.py" or args[:2] == ("-m", "mxgan"), args
    argv, prog = (["train", *args[1:]], "run_dcgan.py") if args[0] == "run_dcgan.py" else (list(args[2:]), "mxgan")
    out, err = io.StringIO(), io.StringIO()
    saved = dict(os.environ)
    os.environ["MXGAN_DATA_DIR"] = str(data_dir())
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv, prog)
    except SystemExit as exc:  # argparse's own refusals
        code = exc.code if isinstance(exc.code, int) else 1
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return subprocess.CompletedProcess([prog, *argv], code, out.getvalue(), err.getvalue())


def one_line(result: subprocess.CompletedProcess, code: int = 2) -> str:
    """The single line a refused command printed (exit ``code``, no traceback)."""
    assert result.returncode == code, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    return lines[0]


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "the condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a deadline, not a speed claim)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def has_checkpoint(run: Path) -> bool:
    """Whether a run folder's state.json lists a checkpoint set (a run writes it, listing none, as it starts)."""
    from mxgan.checkpoints.run_folder import read_run_state

    return (run / "state.json").exists() and bool(read_run_state(run).checkpoints)


def final_params(run: Path) -> dict:
    """Every weight of a run folder's newest set: G, D and (where kept) G's moving average, as numpy."""
    from mxgan.checkpoints.module_format import load_module_params
    from mxgan.checkpoints.run_folder import read_run_state

    state = read_run_state(run)
    roles = [r for r in ("G", "D", "G_ema") if r in state.files]
    return {role: {k: v.asnumpy() for k, v in {**a, **x}.items()}
            for role in roles for a, x in [load_module_params(run / state.files[role])]}


# --- networks written by stock Gluon code ----------------------------------------------------------


def _randomize_batchnorm(net, seed: int) -> None:
    """A learned gamma and real running statistics, so a loader that drops or mixes them up fails."""
    import mxnet as mx
    import numpy as np

    rng = np.random.default_rng(seed)
    for name, p in net.collect_params().items():
        if name.endswith(("gamma", "running_var")):
            p.set_data(mx.nd.array(rng.uniform(0.5, 1.5, p.shape)))
        elif name.endswith(("beta", "running_mean")):
            p.set_data(mx.nd.array(rng.normal(0, 0.2, p.shape)))


def gluon_generator(ngf: int, nc: int, size: int, nz: int = 20):
    """The nn.Sequential generator of MXNet's example/gluon/dc_gan, at any size."""
    import mxnet as mx

    nn = mx.gluon.nn
    layers = size.bit_length() - 2
    net = nn.Sequential()
    with net.name_scope():
        for i in range(1, layers):
            width = ngf * 2 ** (layers - 1 - i)
            net.add(nn.Conv2DTranspose(width, 4, 1 if i == 1 else 2, 0 if i == 1 else 1, use_bias=False))
            net.add(nn.BatchNorm())
            net.add(nn.Activation("relu"))
        net.add(nn.Conv2DTranspose(nc, 4, 2, 1, use_bias=False))
        net.add(nn.Activation("tanh"))
    net.initialize(mx.init.Normal(0.3))
    net(mx.nd.zeros((1, nz, 1, 1)))
    _randomize_batchnorm(net, size)
    return net


def gluon_discriminator(ndf: int, nc: int, size: int):
    """The nn.Sequential discriminator of MXNet's example/gluon/dc_gan (two logits, fake and real), at any size."""
    import mxnet as mx

    nn = mx.gluon.nn
    layers = size.bit_length() - 2
    net = nn.Sequential()
    with net.name_scope():
        for i in range(1, layers):
            net.add(nn.Conv2D(ndf * 2 ** (i - 1), 4, 2, 1, use_bias=False))
            if i > 1:
                net.add(nn.BatchNorm())
            net.add(nn.LeakyReLU(0.2))
        net.add(nn.Conv2D(2, 4, 1, 0, use_bias=False))
    net.initialize(mx.init.Normal(0.1))
    net(mx.nd.zeros((1, nc, size, size)))
    _randomize_batchnorm(net, size + 1)
    return net


def d2l_generator(ngf: int, nc: int, size: int, nz: int = 20):
    """The generator of d2l.ai's DCGAN chapter (MXNet tab): G_block(conv2d_trans, batch_norm, activation)."""
    import mxnet as mx

    nn = mx.gluon.nn

    class G_block(nn.Block):
        def __init__(self, channels, kernel_size=4, strides=2, padding=1, **kwargs):
            super().__init__(**kwargs)
            self.conv2d_trans = nn.Conv2DTranspose(channels, kernel_size, strides, padding, use_bias=False)
            self.batch_norm = nn.BatchNorm()
            self.activation = nn.Activation("relu")

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d_trans(X)))

    layers = size.bit_length() - 2
    net = nn.Sequential()
    for i in range(1, layers):
        net.add(G_block(ngf * 2 ** (layers - 1 - i), **({"strides": 1, "padding": 0} if i == 1 else {})))
    net.add(nn.Conv2DTranspose(nc, kernel_size=4, strides=2, padding=1, use_bias=False, activation="tanh"))
    net.initialize(mx.init.Normal(0.3))
    net(mx.nd.zeros((1, nz, 1, 1)))
    _randomize_batchnorm(net, size + 2)
    return net


def d2l_discriminator(ndf: int, nc: int, size: int):
    """The discriminator of d2l.ai's DCGAN chapter: D_block(conv2d, batch_norm, activation), BatchNorm on the
    first block too."""
    import mxnet as mx

    nn = mx.gluon.nn

    class D_block(nn.Block):
        def __init__(self, channels, kernel_size=4, strides=2, padding=1, alpha=0.2, **kwargs):
            super().__init__(**kwargs)
            self.conv2d = nn.Conv2D(channels, kernel_size, strides, padding, use_bias=False)
            self.batch_norm = nn.BatchNorm()
            self.activation = nn.LeakyReLU(alpha)

        def forward(self, X):
            return self.activation(self.batch_norm(self.conv2d(X)))

    layers = size.bit_length() - 2
    net = nn.Sequential()
    for i in range(1, layers):
        net.add(D_block(ndf * 2 ** (i - 1)))
    net.add(nn.Conv2D(1, kernel_size=4, use_bias=False))
    net.initialize(mx.init.Normal(0.1))
    net(mx.nd.zeros((1, nc, size, size)))
    return net
