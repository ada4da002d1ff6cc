"""Shared fixtures. Thread settings are made before any test imports MXNet."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from mxgan.runtime.env import prepare_mxnet

prepare_mxnet()

REPO = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """The folder holding mnist/: $MXGAN_DATA_DIR (CI sets ../shared/data), else the repo's data/."""
    return Path(os.environ.get("MXGAN_DATA_DIR") or REPO / "data").resolve()


@pytest.fixture(scope="session")
def mnist_dir() -> Path:
    folder = data_dir() / "mnist"
    if not folder.is_dir():
        pytest.fail(f"MNIST not found at {folder}; run `mxgan download mnist` or set MXGAN_DATA_DIR")
    return folder


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run ``python run_dcgan.py`` or ``python -m mxgan.cli`` in a real process."""
    import subprocess

    full_env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )
