"""Shared fixtures. Thread settings are made before any test imports MXNet."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import data_dir

from mxgan.runtime.env import prepare_mxnet

prepare_mxnet()

# tests that start several processes (launchers, servers, device splits): pytest -m "not slow" leaves them out
SLOW_MODULES = {"test_distributed", "test_devices"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.module.__name__ in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = data_dir() / "mnist"
    if not folder.is_dir():
        pytest.fail(f"MNIST not found at {folder}; run `mxgan download mnist` or set MXGAN_DATA_DIR")
    return folder
