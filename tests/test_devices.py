"""Data-parallel training: the batch split over devices trains as one device would."""

import os
import subprocess
import sys

import numpy as np
from helpers import REPO

START = {"G:g1_weight", "D:d1_weight"}


def _train(ctx: str, out, environ: dict | None = None) -> dict:
    subprocess.run([sys.executable, str(REPO / "tests" / "_parallel_steps.py"), ctx, str(out)], check=True,
                   timeout=300, env={**os.environ, **(environ or {})})
    return dict(np.load(out))


def test_two_devices_train_as_one_from_the_same_start(tmp_path):
    # Several devices synchronize BatchNorm with SyncBatchNorm, which computes as MXNet's own BatchNorm does;
    # one device would use MKLDNN's, which on CPUs without AVX-512 moves these weights 1e-3 away after the
    # three steps. So the one-device reference runs MXNet's own kernels: the split alone is compared.
    one = _train("cpu", tmp_path / "one.npz", {"MXNET_MKLDNN_ENABLED": "0"})
    two = _train("cpu0,cpu1", tmp_path / "two.npz")
    assert one.keys() == two.keys()
    worst = {name: float(np.abs(one[name] - two[name]).max()) for name in one}
    assert max(worst.values()) <= 1e-4, sorted(worst.items(), key=lambda kv: -kv[1])[:3]
    # the steps did move the weights, by far more than that
    assert np.abs(one["D:d1_weight"] - one["start:d1_weight"]).max() > 1e-2


def test_several_cpu_devices_without_engine_workers_are_one_line(tmp_path):
    from helpers import run_cli

    result = run_cli("run_dcgan.py", "--dataset", "synthetic", "--ctx", "cpu0,cpu1", "--out", str(tmp_path / "r"),
                     env={"MXNET_CPU_WORKER_NTHREADS": "1"})
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "MXNET_CPU_WORKER_NTHREADS=2" in lines[0], result.stderr
    assert not (tmp_path / "r").exists()
