"""Shared fixtures. Thread settings are made before any test imports MXNet."""

from __future__ import annotations

import ast
import inspect
import signal
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from helpers import mnist_data_dir, run_cli, tiny

from mxgan.runtime.env import prepare_mxnet

prepare_mxnet()


def _not_here(signum: int, frame: object) -> None:
    """The suite's own hangup handler: a hangup does not stop the suite (as nohup meant), but this, unlike
    an ignored signal, is not inherited by the processes the tests start."""


# A suite started with Ctrl-C or hangups ignored (nohup, a background job of a script) would hand that on to
# every mxgan the tests start, and mxgan rightly keeps an inherited SIG_IGN: the tests that stop mxgan with
# SIGINT or SIGHUP need those signals to reach it.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
if signal.getsignal(signal.SIGHUP) is signal.SIG_IGN:
    signal.signal(signal.SIGHUP, _not_here)

# what starts a process (a training run, a launcher, a device split): pytest -m "not slow" leaves such tests out
PROCESS_CALLS = {"run_cli", "_start", "_start_training", "_train", "Popen", "run"}


def _starts_processes(function: Callable, module: ModuleType, seen: set[str] | None = None) -> bool:
    """Whether ``function`` (or a helper of its module that it calls, or a fixture it takes) starts a process."""
    seen = set() if seen is None else seen
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(function)))
    except (OSError, TypeError):
        return False
    called = {node.func.id if isinstance(node.func, ast.Name) else node.func.attr
              for node in ast.walk(tree) if isinstance(node, ast.Call)
              and isinstance(node.func, (ast.Name, ast.Attribute))}
    if called & PROCESS_CALLS:
        return True
    helpers = [getattr(module, name) for name in called - seen if inspect.isfunction(getattr(module, name, None))]
    seen |= called
    return any(helper.__module__ == module.__name__ and _starts_processes(helper, module, seen) for helper in helpers)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        function, module = getattr(item, "function", None), getattr(item, "module", None)
        names = getattr(item, "fixturenames", ())
        fixtures = [(getattr(module, name), module) for name in names if hasattr(module, name)]
        # and this file's own fixtures (mnist_run trains); what it imports (run_cli, ...) is no fixture
        fixtures += [(globals()[name], sys.modules[__name__]) for name in names
                     if getattr(globals().get(name), "__module__", None) == __name__]
        if function and module and any(_starts_processes(getattr(f, "__wrapped__", f), home)
                                       for f, home in [(function, module), *fixtures] if callable(f)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    return mnist_data_dir() / "mnist"  # skips, saying how to get MNIST, where it is not found


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory) -> tuple[Path, object]:
    """One short MNIST run that several tests read, so it is trained once: 2 epochs of 16 px with ngf = ndf = 8
    (120 steps each), the quality checked at each epoch's end on 500 samples, a grid every 50 steps. The run
    folder and the finished process (its stdout and stderr). Tests may add files to it, never change its own."""
    mnist_data_dir()  # skips, saying how to get MNIST, where it is not found
    run = tmp_path_factory.mktemp("mnist-run") / "run"
    result = run_cli("run_dcgan.py", *tiny(500, "--epochs", "2", "--eval-samples", "500", "--sample-every", "50",
                                           "--out", str(run), dataset="mnist"))
    assert result.returncode == 0, result.stderr
    return run, result
