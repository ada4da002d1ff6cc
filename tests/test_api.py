"""The Python API: what importing mxgan costs, the recipes resolved inside TrainConfig, your own hooks, and the
README's example, run as it stands."""

import json
import re
import subprocess
import sys

import pytest
from helpers import REPO, data_dir, run_main

import mxgan
from mxgan.config import CONDITIONAL_RATES, RECIPES, TrainConfig
from mxgan.training.checks import check_train_config


def test_importing_mxgan_imports_no_mxnet_until_a_name_needs_it():
    code = ("import sys, mxgan; assert 'mxnet' not in sys.modules; mxgan.TrainConfig(); mxgan.MxganError; "
            "assert 'mxnet' not in sys.modules; mxgan.make_dcgan_sym; assert 'mxnet' in sys.modules; "
            "assert sorted(dir(mxgan)) == sorted({*mxgan.__all__, '__version__'})")
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO).returncode == 0
    assert (REPO / "mxgan" / "py.typed").is_file() and '"py.typed"' in (REPO / "pyproject.toml").read_text()


def test_train_config_resolves_its_recipe_as_the_command_does():
    default, example = TrainConfig(dataset="mnist"), TrainConfig(recipe="example")
    assert default.recipe == "default" and default.channels == 1  # MNIST's own channel
    assert {k: getattr(default, k) for k in RECIPES["default"] if k != "channels"} == \
        {k: v for k, v in RECIPES["default"].items() if k != "channels"}
    assert {k: getattr(example, k) for k in RECIPES["example"]} == RECIPES["example"]
    assert TrainConfig(dataset="folder").channels == 3 and TrainConfig(lr_g=1e-3).lr_g == 1e-3  # a given value wins
    # a conditional model keeps the rates before the doubling, which made its raw weights collapse; given rates win
    conditional = TrainConfig(dataset="mnist", conditional=True)
    assert {"lr_g": conditional.lr_g, "lr_d": conditional.lr_d} == CONDITIONAL_RATES == {"lr_g": 4e-4, "lr_d": 2e-4}
    assert (TrainConfig(dataset="mnist", conditional=True, lr_g=1e-3).lr_g,
            TrainConfig(recipe="example", conditional=True).lr_g) == (1e-3, 2e-4)
    with pytest.raises(mxgan.MxganError, match="--recipe 'fast' is not one of default, example"):
        TrainConfig(recipe="fast")


@pytest.mark.parametrize("recipe", list(RECIPES))
@pytest.mark.parametrize("dataset", ["mnist", "synthetic"])
def test_every_recipe_gives_the_same_run_json_through_the_command_and_the_library(tmp_path, recipe, dataset):
    out = str(tmp_path / "run")
    result = run_main("run_dcgan.py", "--recipe", recipe, "--dataset", dataset, "--out", out, "--dry-run")
    assert result.returncode == 0, result.stderr
    from_command = json.loads(result.stdout[:result.stdout.rindex("}") + 1])
    from_library = check_train_config(TrainConfig(recipe=recipe, dataset=dataset, out=out,
                                                  data_dir=str(data_dir()))).to_json()
    assert from_command == from_library


class Recorder(mxgan.Hook):
    """Every call the trainer makes, with what the run's view showed then."""

    def __init__(self):
        self.calls = []

    def after_step(self, run):
        self.calls.append(("step", run.progress.iteration, run.metrics.get("iteration"), run.checkpoint))

    def after_epoch(self, run):
        self.calls.append(("epoch", run.progress.iteration, run.progress.epoch, run.checkpoint))

    def after_train(self, run):
        self.calls.append(("stop", run.progress.iteration, run.out, run.elapsed() > 0))


class LateRecorder(Recorder):
    order = 95  # after the checkpoint (90): sees the set of its own step


def test_your_hooks_see_what_mxgans_own_wrote_and_the_checkpoint_when_they_come_after_it(tmp_path):
    hook, late = Recorder(), LateRecorder()
    cfg = TrainConfig(dataset="synthetic", image_size=16, ngf=8, ndf=8, batch_size=1000, max_steps=12, log_every=4,
                      progress=False, status_every=0, out=str(tmp_path / "run"))
    result = mxgan.train(cfg, hooks=[late, hook], announce=lambda line: None)
    steps = [call for call in hook.calls if call[0] == "step"]
    assert [call[1] for call in steps] == list(range(1, 13))
    assert [call[2] for call in steps][3:5] == [4, 4]  # the metrics line of step 4, until the next one
    epoch_set = tmp_path / "run" / "synthetic_G-0000.params"
    assert ("epoch", 10, 0, None) in hook.calls  # before the checkpoint, which keeps this hook's state too
    assert ("epoch", 10, 0, epoch_set) in late.calls  # order 95: after it
    assert hook.calls[-1] == late.calls[-1] == ("stop", 12, tmp_path / "run", True)
    late_steps = [call for call in late.calls if call[0] == "step"]
    assert result.iterations == 12 and result.checkpoint == late_steps[-1][3]


def test_the_readme_python_example_runs_as_it_stands(tmp_path):
    readme = (REPO / "README.md").read_text()
    code = re.search(r"<!-- python-example.*?-->\n```python\n(.*?)```", readme, re.S).group(1)
    env = {"MXGAN_DATA_DIR": str(data_dir()), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                            timeout=600)
    assert result.returncode == 0, result.stderr
    assert re.search(r"200 steps; D's accuracy over the last 10: [\d.]+", result.stdout), result.stdout
    assert "FID-MNIST" in result.stdout and "1000 samples" in result.stdout
    assert (tmp_path / "runs" / "python-example" / "state.json").is_file()
