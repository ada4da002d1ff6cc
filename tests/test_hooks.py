"""Each hook of the training loop on its own, around a real (tiny) trainer on synthetic images."""

import json

import mxnet as mx
import numpy as np
import pytest

from mxgan.checkpoints.run_folder import Progress, read_run_state
from mxgan.config import TrainConfig
from mxgan.data.batches import Shard
from mxgan.data.sources import training_batches
from mxgan.errors import DivergenceError
from mxgan.model.latent import fixed_noise
from mxgan.model.modules import build_gan
from mxgan.runtime.distributed import Watchdog
from mxgan.training.ema import EmaView, GeneratorEMA
from mxgan.training.hooks import Checkpointer, EmaUpdate, Heartbeat, MetricsLog, QualityCheck, SampleGrids
from mxgan.training.step import StepOutputs
from mxgan.training.trainer import Trainer


@pytest.fixture
def trainer(tmp_path):
    cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, batch_size=1000, out=str(tmp_path),
                      data_dir=str(tmp_path), log_every=3, sample_every=4, checkpoint_every=5, ema_decay=0.9)
    batches, _ = training_batches(cfg, Shard(0, 1))  # 10 steps an epoch
    gan = build_gan([mx.cpu()], cfg.batch_size, cfg.nz, cfg.ngf, cfg.ndf, cfg.channels, cfg.image_size, 2e-4, 0.5,
                    0.0, 0.02)
    gan.attach_optimizers()
    return Trainer(cfg, gan, batches, Progress(), [mx.cpu()])


def _steps(trainer, hook, n, epoch_hook=False):
    """``n`` real steps, each followed by ``hook.after_step`` (and ``after_epoch`` at an epoch's end)."""
    batches = trainer.batches.epoch(trainer.progress.epoch, trainer.progress.batch)
    for _ in range(n):
        trainer.run_step(next(batches))
        hook.after_step(trainer)
        if epoch_hook and trainer.epoch_ends:
            hook.after_epoch(trainer)


def test_ema_update_follows_g_updates_only(trainer):
    hook = EmaUpdate(EmaView(GeneratorEMA(trainer.gan.modG, 0.9), trainer.gan.modG, trainer.architecture,
                             trainer.out, 0, [mx.cpu()]))
    _steps(trainer, hook, 2)
    assert hook.view.ema.updates == 2
    trainer.cfg.pretrain_d = 10  # D-only steps from here on: G rests, so does its average
    _steps(trainer, hook, 2)
    assert hook.view.ema.updates == 2


def test_metrics_log_writes_every_log_every_steps_and_stops_at_nan(trainer):
    hook = MetricsLog()
    _steps(trainer, hook, 7)
    lines = [json.loads(line) for line in (trainer.out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [3, 6] and trainer.metrics["iteration"] == 6
    nan = mx.nd.full((trainer.cfg.batch_size, 1), np.nan)
    trainer.outputs = StepOutputs(D_x=nan, D_G_z1=nan, D_G_z2=None)
    trainer.progress = Progress(0, 9, 9)
    with pytest.raises(DivergenceError, match="NaN/Inf at iteration 8"):
        hook.after_step(trainer)


def test_sample_grids_every_sample_every_steps_and_after_each_epoch(trainer):
    _steps(trainer, SampleGrids(fixed_noise(0, 64, trainer.cfg.nz), None), 10, epoch_hook=True)
    assert sorted(p.name for p in trainer.out.glob("*.png")) == [
        "samples-0000004.png", "samples-0000008.png", "samples-epoch-0000.png"]


def test_checkpointer_every_checkpoint_every_steps_and_after_each_epoch(trainer):
    _steps(trainer, Checkpointer(keep=0, optimizer_states=True, ema_view=None), 10, epoch_hook=True)
    state = read_run_state(trainer.out)
    assert [files["G"] for files in (*state.history, state.files)] == [
        "synthetic_G-0000-0000005.params", "synthetic_G-0000.params"]  # step 10 ends the epoch: one set, not two


def test_heartbeat_waits_for_the_step_and_beats(trainer):
    with Watchdog(60, "test") as watchdog:
        watchdog.last = 0.0
        _steps(trainer, Heartbeat(watchdog), 1)
        assert watchdog.last > 0.0


@pytest.mark.slow  # judges MNIST's 70000 images once for the reference (about 15 s)
def test_quality_check_logs_raw_and_ema_and_keeps_the_best(trainer, mnist_dir):
    trainer.cfg.data_dir, trainer.cfg.eval_samples = str(mnist_dir.parent), 200
    trainer.eval_interval = 10  # once an epoch (the trainer's synthetic images are judged as MNIST would be)
    view = EmaView(GeneratorEMA(trainer.gan.modG, 0.9), trainer.gan.modG, trainer.architecture, trainer.out, 0,
                   [mx.cpu()])
    hooks = [EmaUpdate(view), Checkpointer(keep=0, optimizer_states=True, ema_view=view),
             QualityCheck(trainer.cfg, view)]
    batches = trainer.batches.epoch(0)
    for _ in range(10):  # one epoch, then its end
        trainer.run_step(next(batches))
        for hook in hooks:
            hook.after_step(trainer)
    for hook in hooks:
        hook.after_epoch(trainer)
    records = [json.loads(line) for line in (trainer.out / "metrics.jsonl").read_text().splitlines()]
    (record,) = [r for r in records if "eval" in r]
    assert record["epoch"] == 0 and record["eval"]["num"] == record["eval_ema"]["num"] == 200
    state = read_run_state(trainer.out)
    assert state.best == {"epoch": 0, "iteration": 10, "fid": record["eval_ema"]["fid"], "files": state.files}
    (evaluation,) = state.evaluations
    assert evaluation["iteration"] == 10 and evaluation["fid"] == record["eval_ema"]["fid"]
    assert evaluation["fid_raw"] == record["eval"]["fid"] and evaluation["files"] == state.files
