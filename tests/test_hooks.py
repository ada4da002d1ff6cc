"""Each hook of the training loop on its own, around a real (tiny) trainer on synthetic images; their order; their
state, which survives a resume; a hook that stops the run; the run's messages on the ``mxgan`` logger."""

import json
import logging
import os
import signal
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from helpers import REPO, data_dir, run_cli, tiny, wait_for

import mxgan
from mxgan.checkpoints.run_folder import Progress, read_run_state
from mxgan.config import TrainConfig
from mxgan.data.batches import Shard
from mxgan.data.sources import training_batches
from mxgan.errors import DivergenceError
from mxgan.model.latent import fixed_noise, latent
from mxgan.model.modules import build_gan
from mxgan.quality.evaluator import MnistEvaluator
from mxgan.runtime.distributed import Watchdog
from mxgan.runtime.streams import stream
from mxgan.training.contract import Hook, in_order
from mxgan.training.ema import EmaView, GeneratorEMA
from mxgan.training.hooks import (
    Checkpointer,
    CheckpointSettings,
    EmaUpdate,
    Generators,
    Heartbeat,
    MetricsLog,
    QualityCheck,
    QualitySettings,
    RunLog,
    SampleGrids,
)
from mxgan.training.log import JsonlLog
from mxgan.training.loop import default_hooks
from mxgan.training.start import architecture, gan_spec
from mxgan.training.step import StepOutputs
from mxgan.training.trainer import ReadOnlyRun, Trainer


@pytest.fixture
def trainer(tmp_path):
    cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, batch_size=1000, out=str(tmp_path),
                      data_dir=str(tmp_path), log_every=3, sample_every=4, checkpoint_every=5, ema_decay=0.9)
    batches, _ = training_batches(cfg, Shard(0, 1))  # 10 steps an epoch
    spec = gan_spec(cfg)
    gan = build_gan(spec, [mx.cpu()])
    gan.attach_optimizers()
    return Trainer(cfg, gan, architecture(spec, cfg.noise), batches, Progress(), [mx.cpu()])


def _steps(trainer, hooks, n, epoch_hook=False):
    """``n`` real steps, each followed by the hooks' ``after_step`` (and ``after_epoch`` at an epoch's end)."""
    hooks = in_order(hooks if isinstance(hooks, list) else [hooks])
    trainer.hooks = hooks
    view, batches = ReadOnlyRun(trainer), trainer.batches.epoch(trainer.progress.epoch, trainer.progress.batch)
    for _ in range(n):
        trainer.run_step(next(batches))
        for hook in hooks:
            hook.after_step(view)
        if epoch_hook and trainer.epoch_ends:
            for hook in hooks:
                hook.after_epoch(view)


def _runlog(trainer):
    return RunLog(JsonlLog(trainer.out / "metrics.jsonl"))


def _checkpointer(trainer, ema_view=None):
    settings = CheckpointSettings(trainer.out, "synthetic", trainer.cfg.checkpoint_every, 0, True, {})
    return Checkpointer(settings, trainer.gan, ema_view, trainer.hook_states)


def _ema_view(trainer):
    return EmaView(GeneratorEMA(trainer.gan.modG, 0.9), trainer.gan.modG, trainer.architecture, trainer.out, 0,
                   [mx.cpu()])


def test_ema_update_follows_g_updates_only(trainer):
    hook = EmaUpdate(GeneratorEMA(trainer.gan.modG, 0.9))
    _steps(trainer, hook, 2)
    assert hook.ema.updates == 2
    trainer.cfg.pretrain_d = 10  # D-only steps from here on: G rests, so does its average
    _steps(trainer, hook, 2)
    assert hook.ema.updates == 2


def test_metrics_log_writes_every_log_every_steps_and_stops_at_nan(trainer):
    hook = MetricsLog(JsonlLog(trainer.out / "metrics.jsonl"), 3, trainer.cfg.batch_size)
    _steps(trainer, hook, 7)
    lines = [json.loads(line) for line in (trainer.out / "metrics.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in lines] == [3, 6] and trainer.record.metrics["iteration"] == 6
    nan = mx.nd.full((trainer.cfg.batch_size, 1), np.nan)
    trainer.outputs = StepOutputs(D_x=nan, D_G_z1=nan, D_G_z2=None)
    trainer.progress = Progress(0, 9, 9)
    with pytest.raises(DivergenceError, match="NaN/Inf at iteration 8"):
        hook.after_step(ReadOnlyRun(trainer))


def test_metrics_window_state_round_trips(trainer):
    hook = MetricsLog(JsonlLog(None), 3, trainer.cfg.batch_size)
    _steps(trainer, hook, 2)
    copy = MetricsLog(JsonlLog(None), 3, trainer.cfg.batch_size)
    copy.load_state_dict(json.loads(json.dumps(hook.state_dict())))
    assert [i for i, _ in copy.window] == [0, 1]
    for (_, ours), (_, theirs) in zip(hook.window, copy.window):
        for a, b in zip(ours, theirs):
            assert a.shape == b.shape and np.array_equal(a, b)


def test_sample_grids_every_sample_every_steps_and_after_each_epoch(trainer):
    grids = SampleGrids(fixed_noise(0, 64, trainer.cfg.nz), 4, Generators(trainer.generator), False,
                        _runlog(trainer), [mx.cpu()])
    _steps(trainer, grids, 10, epoch_hook=True)
    assert sorted(p.name for p in trainer.out.glob("*.png")) == [
        "samples-0000004.png", "samples-0000008.png", "samples-epoch-0000.png"]


def test_checkpointer_every_checkpoint_every_steps_and_after_each_epoch(trainer):
    _steps(trainer, _checkpointer(trainer), 10, epoch_hook=True)
    state = read_run_state(trainer.out)
    assert [files["G"] for files in (*state.history, state.files)] == [
        "synthetic_G-0000-0000005.params", "synthetic_G-0000.params"]  # step 10 ends the epoch: one set, not two


def test_keeping_every_set_warns_once_with_the_set_s_size_and_the_run_s_total(trainer, monkeypatch, caplog):
    """``--keep 0`` over a long run fills a disk: the first set says what it takes and what the run will."""
    from mxgan.training import hooks
    with caplog.at_level(logging.WARNING, logger="mxgan"):
        _steps(trainer, _checkpointer(trainer), 5)  # a set of 5 steps: a tiny G, too small to say anything
        assert "--keep 0" not in caplog.text
        monkeypatch.setattr(hooks, "KEEP_ALL_WARNING", 1)  # as though each set were as large as a 64 px one
        checkpointer = _checkpointer(trainer)
        _steps(trainer, checkpointer, 5, epoch_hook=True)  # the set of the epoch's end: the warning
        checkpointer.after_epoch(ReadOnlyRun(trainer))  # a second set from the same run: no second warning
    (warning,) = [r.getMessage() for r in caplog.records if "--keep 0" in r.getMessage()]
    set_bytes = sum(p.stat().st_size for p in trainer.out.glob("synthetic_*-0000.*"))  # the set of epoch 0's end
    sets_left = (trainer.total - 10) // 10 * 2  # two sets an epoch of 10 steps: at its step 5 and at its end
    assert warning == (f"--keep 0 keeps every checkpoint set: this one takes {hooks.size(set_bytes)}, and about "
                       f"{sets_left} more come, {hooks.size(set_bytes * (sets_left + 1))} in all; --keep N keeps "
                       f"the newest N and the best"), warning


def test_heartbeat_waits_for_the_step_and_beats(trainer):
    with Watchdog(60, "test") as watchdog:
        watchdog.last = 0.0
        _steps(trainer, Heartbeat(watchdog), 1)
        assert watchdog.last > 0.0


def test_hooks_run_in_their_declared_order(trainer):
    """The metrics line before anything that reads it, yours after mxgan's observers, the checkpoint (which keeps
    every hook's state) after all of them but the display; as listed within one order."""
    class Yours(Hook):
        pass

    first, second = Yours(), Yours()
    built = default_hooks(trainer, _ema_view(trainer), None, {})
    called = [type(hook).__name__ for hook in in_order([first, *built, second])]
    assert called == ["EmaUpdate", "MetricsLog", "OverpoweringWarning", "SampleGrids", "Yours", "Yours",
                      "Checkpointer", "ProgressReport"]
    assert in_order([second, first]) == [second, first]


@pytest.mark.slow  # scores MNIST's 70000 images once for the reference (about 15 s)
def test_quality_check_logs_raw_and_ema_and_the_checkpoint_keeps_the_best(trainer, mnist_dir):
    view = _ema_view(trainer)
    settings = QualitySettings(every=10, until_fid=0, z=latent(stream(0, "quality"), 200, trainer.cfg.nz))
    evaluator = MnistEvaluator(mnist_dir.parent, 16, 3)  # the trainer's synthetic images measured as MNIST's would be
    check = QualityCheck(settings, evaluator, Generators(trainer.generator, view), _runlog(trainer), trainer.pace,
                         [mx.cpu()])
    _steps(trainer, [EmaUpdate(view.ema), check, _checkpointer(trainer, view)], 10, epoch_hook=True)
    records = [json.loads(line) for line in (trainer.out / "metrics.jsonl").read_text().splitlines()]
    (record,) = [r for r in records if "eval" in r]
    assert record["epoch"] == 0 and record["eval"]["num"] == record["eval_ema"]["num"] == 200
    state = read_run_state(trainer.out)
    assert state.best == {"epoch": 0, "iteration": 10, "fid": record["eval_ema"]["fid"], "files": state.files}
    (evaluation,) = state.evaluations
    assert evaluation["iteration"] == 10 and evaluation["fid"] == record["eval_ema"]["fid"]
    assert evaluation["fid_raw"] == record["eval"]["fid"] and evaluation["files"] == state.files
    assert json.loads((trainer.out / state.files["hooks"]).read_text())["QualityCheck"] == {"best": state.best["fid"]}


# --- through mxgan.train and the command: state across a resume, a hook's stop, messages -----------------------

class Counter(Hook):
    """A user's stateful hook: the steps it has seen, over the whole run."""

    def __init__(self):
        self.steps = 0

    def after_step(self, run):
        self.steps += 1

    def state_dict(self):
        return {"steps": self.steps}

    def load_state_dict(self, state):
        self.steps = state["steps"]


# log lines every 4 steps, sets every 3: a set falls inside a metrics window; D wins quickly at a high D rate
STATEFUL = tiny(1000, "--log-every", "4", "--checkpoint-every", "3", "--lr-d", "0.01")


def _without_timing(run):
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in line.items() if k != "images_per_sec"} for line in lines]


def test_hook_state_is_the_same_after_a_stop_and_resume_as_in_a_straight_run(tmp_path):
    """SIGTERM at a set that falls inside a metrics window, then --resume: the metrics lines, the alarm's streak
    and the window kept with the last set are those of an uninterrupted run."""
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    assert run_cli("run_dcgan.py", *STATEFUL, "--max-steps", "12", "--out", str(straight)).returncode == 0
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir())}
    proc = subprocess.Popen([sys.executable, "run_dcgan.py", *STATEFUL, "--max-steps", "12", "--out", str(stopped)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_for(lambda: (stopped / "state.json").exists() and read_run_state(stopped).progress.iteration >= 3,
             what="the first checkpoint")
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=120) == 143
    result = run_cli("run_dcgan.py", "--resume", str(stopped), "--no-progress")
    assert result.returncode == 0, result.stderr
    assert _without_timing(stopped) == _without_timing(straight)
    kept = [{s.files["hooks"]: json.loads((run / s.files["hooks"]).read_text())
             for s in read_run_state(run).checkpoints} for run in (stopped, straight)]
    common = sorted(set(kept[0]) & set(kept[1]))
    assert len(common) >= 4 and all(kept[0][name] == kept[1][name] for name in common)
    assert any(kept[1][name]["MetricsLog"]["window"] for name in common)  # a set inside a window was compared


def test_a_user_hook_state_and_stop_survive_a_resume(tmp_path):
    class StopAtFive(Counter):
        def after_step(self, run):
            super().after_step(run)
            if run.progress.iteration == 5:
                run.stop("enough at 5")

    out = str(tmp_path / "run")
    cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, batch_size=1000, max_steps=8, out=out)
    first = StopAtFive()
    result = mxgan.train(cfg, hooks=[first], announce=lambda line: None)
    assert result.stopped == "enough at 5" and result.iterations == 5 and first.steps == 5
    assert read_run_state(tmp_path / "run").progress.iteration == 5  # stopped with a checkpoint
    again = StopAtFive()  # its state is the one a StopAtFive kept
    result = mxgan.train(TrainConfig(resume=out), hooks=[again], announce=lambda line: None)
    assert result.iterations == 8 and again.steps == 8  # its count from the set, then three more


def test_the_run_messages_go_to_the_mxgan_logger(tmp_path, capsys):
    records = []

    class Keep(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("mxgan")
    handler = Keep()
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, batch_size=1000, max_steps=2,
                          progress=False, out=str(tmp_path / "run"))
        mxgan.train(cfg)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
    assert "data: 10000 synthetic images" in records
    assert "data: 10000 synthetic images" not in capsys.readouterr().out  # routed, not printed
