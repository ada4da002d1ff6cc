"""Shared fixtures. Thread settings are made before any test imports MXNet."""

from __future__ import annotations

import ast
import inspect
import textwrap
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

import pytest
from helpers import data_dir

from mxgan.runtime.env import prepare_mxnet

prepare_mxnet()

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
        fixtures = [getattr(module, name) for name in getattr(item, "fixturenames", ()) if hasattr(module, name)]
        if function and module and any(_starts_processes(getattr(f, "__wrapped__", f), module)
                                       for f in [function, *fixtures] if callable(f)):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = data_dir() / "mnist"
    if not folder.is_dir():
        pytest.fail(f"MNIST not found at {folder}; run `mxgan download mnist` or set MXGAN_DATA_DIR")
    return folder
