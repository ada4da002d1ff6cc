"""The best checkpoint of a run, eval --all, and the neighbourhood metrics beside FID."""

import json

import mxnet as mx
import numpy as np
from helpers import run_cli, run_main, tiny

from mxgan.checkpoints.formats import load_generator
from mxgan.checkpoints.run_folder import (
    Evaluation,
    Progress,
    read_run_state,
    save_run_checkpoint,
)
from mxgan.model.modules import GanSpec, build_gan
from mxgan.quality.metrics import neighbourhood_metrics


def test_keep_never_prunes_the_best_set(tmp_path):
    gan = build_gan(GanSpec(4, 10, 8, 8, 1, 16), [mx.cpu()])
    gan.attach_optimizers()
    fids = [9.0, 4.0, 7.0, 8.0, 3.0]  # epoch 1 is best until epoch 4
    for epoch, fid in enumerate(fids):
        save_run_checkpoint(tmp_path, "mnist", gan, Progress(epoch, 10, 10 * (epoch + 1)), True, keep=1,
                            evaluation=Evaluation(epoch, 10 * (epoch + 1), 0.0, fid, fid, 0.0))
        on_disk = sorted(p.name for p in tmp_path.glob("*_G-*.params"))
        best = min(range(epoch + 1), key=lambda e: fids[e])
        assert on_disk == sorted({f"mnist_G-{best:04d}.params", f"mnist_G-{epoch:04d}.params"}), on_disk
        state = read_run_state(tmp_path)
        assert state.best["epoch"] == best and state.best["fid"] == fids[best]
        assert load_generator(f"{tmp_path}:best").path.name == f"mnist_G-{best:04d}.params"
    # the superseded best (epoch 1) went once epoch 4 beat it, with its D and Adam state
    assert sorted(p.name for p in tmp_path.iterdir() if "0001" in p.name) == []


def _metrics_shape(rng, n):
    return rng.standard_normal((n, 16)).astype(np.float32)


def test_neighbourhood_metrics_tell_collapse_from_blur():
    rng = np.random.default_rng(0)
    real = _metrics_shape(rng, 1000)
    same = neighbourhood_metrics(real, _metrics_shape(rng, 1000))
    assert min(same.values()) > 0.8 and same["density"] < 1.3  # a sample of the same distribution
    collapsed = neighbourhood_metrics(real, real[:1].repeat(1000, 0) + 0.01 * _metrics_shape(rng, 1000))
    assert collapsed["precision"] > 0.9 and collapsed["recall"] < 0.05 and collapsed["coverage"] < 0.05
    blurred = neighbourhood_metrics(real, 3.0 * _metrics_shape(rng, 1000))  # spread far beyond the data
    assert blurred["precision"] < 0.3 and blurred["density"] < 0.2


def test_mnist_run_keeps_its_best_epoch_and_eval_all_rows_each_set(mnist_run):
    run, _ = mnist_run
    evals = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in evals if "eval" in r]
    assert [r["epoch"] for r in evals] == [0, 1] and all("eval_ema" in r for r in evals)  # raw and EMA side by side
    best = min(evals, key=lambda r: r["eval_ema"]["fid"])
    assert read_run_state(run).best["epoch"] == best["epoch"]
    table = run_cli("-m", "mxgan", "eval", "--checkpoint", str(run), "--all", "--num", "500")
    assert table.returncode == 0, table.stderr
    rows = table.stdout.strip().splitlines()[1:]
    assert [r.split(" |")[0] for r in rows] == [
        f"mnist_G_ema-{e:04d}.params" + (" *" if e == best["epoch"] else "") for e in (0, 1)]
    raw = run_cli("-m", "mxgan", "eval", "--checkpoint", f"{run}:best", "--weights", "raw", "--num", "500")
    assert raw.returncode == 0 and f"mnist_G-{best['epoch']:04d}.params" in raw.stdout, raw.stderr
    assert "precision" in raw.stdout and "coverage" in raw.stdout
    assert "no run.json beside it" not in raw.stdout  # a run's own set: its data is known


def test_best_of_a_run_that_never_evaluated_is_one_line(tmp_path):
    run = tmp_path / "run"
    assert run_cli("run_dcgan.py", *tiny(500, "--max-steps", "2", "--out", str(run))).returncode == 0
    before = sorted(p.name for p in tmp_path.rglob("*"))
    for command in (["sample", "--out", str(tmp_path / "s.png")], ["eval"], ["export", "--out", str(tmp_path / "x")]):
        result = run_main("-m", "mxgan", command[0], "--checkpoint", f"{run}:best", *command[1:])
        assert result.returncode == 2 and len(result.stderr.splitlines()) == 1, result.stderr
        assert "never evaluated" in result.stderr
    assert sorted(p.name for p in tmp_path.rglob("*")) == before  # nothing written
