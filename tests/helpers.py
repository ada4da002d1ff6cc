"""Helpers the tests share: real processes of the CLI, the data folder, the shared fixtures, deadlines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
FIXTURES = REPO.parent / "shared" / "fixtures" / "checkpoints"


def data_dir() -> Path:
    """The folder holding mnist/: $MXGAN_DATA_DIR (CI sets ../shared/data), else the repo's data/."""
    return Path(os.environ.get("MXGAN_DATA_DIR") or REPO / "data").resolve()


def fixtures() -> Path:
    """The shared checkpoint fixtures; a missing folder fails the test rather than passing it empty."""
    assert FIXTURES.is_dir() and any(FIXTURES.glob("*/*.params")), f"checkpoint fixtures not found at {FIXTURES}"
    return FIXTURES


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None, timeout: float = 300):
    """Run ``python run_dcgan.py`` or ``python -m mxgan.cli`` in a real process."""
    full_env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir()), **(env or {})}
    return subprocess.run(
        [sys.executable, *args], cwd=cwd or REPO, env=full_env, capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate: Callable[[], object], timeout: float = 60, what: str = "the condition") -> None:
    """Poll ``predicate`` until it holds; fail after ``timeout`` seconds (a deadline, not a speed claim)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def final_params(run: Path) -> dict:
    """Every weight of a run folder's newest set: G, D and (where kept) G's moving average, as numpy."""
    from mxgan.checkpoints.module_format import load_module_params
    from mxgan.checkpoints.run_folder import read_run_state

    state = read_run_state(run)
    roles = [r for r in ("G", "D", "G_ema") if r in state.files]
    return {role: {k: v.asnumpy() for k, v in {**a, **x}.items()}
            for role in roles for a, x in [load_module_params(run / state.files[role])]}
