"""The Python API checks what it is given at its boundary: a wrong type or value is one MxganError naming the
argument (or field, or flag), before any work; the view a user's hook gets cannot change the run."""

import dataclasses
import json
import subprocess
from pathlib import Path

import pytest
from helpers import fixtures, one_line

import mxgan
from mxgan.config import SampleConfig, TrainConfig, load_run_options
from mxgan.training.contract import RunView, check_hooks
from mxgan.training.trainer import ReadOnlyRun

TINY = {"dataset": "synthetic", "image_size": 16, "ngf": 8, "ndf": 8, "batch_size": 1000, "progress": False,
        "status_every": 0}


def refused(call, *args, **kwargs) -> str:
    """The one line of the MxganError ``call`` raises (as the command line would print it)."""
    with pytest.raises(mxgan.MxganError) as caught:
        call(*args, **kwargs)
    return one_line(subprocess.CompletedProcess([], caught.value.exit_code, "", f"{caught.value}\n"))


# --- TrainConfig and SampleConfig: checked when built, by the declarations the flags use ----------------------

@pytest.mark.parametrize("given, expected", [
    ({"epochs": True}, "TrainConfig.epochs must be a whole number, got True (bool)"),
    ({"lr_g": "0.1"}, "TrainConfig.lr_g must be a number, got '0.1' (str)"),
    ({"ngf": 8.0}, "TrainConfig.ngf must be a whole number, got 8.0 (float)"),
    ({"progress": 1}, "TrainConfig.progress must be true or false, got 1 (int)"),
    ({"nz": None}, "TrainConfig.nz must be a whole number, got None (NoneType)"),
    ({"recipe": None}, "TrainConfig.recipe must be a string, got None (NoneType)"),
    ({"dataset": ["mnist"]}, "TrainConfig.dataset must be a string, got ['mnist'] (list)"),
    ({"image_size": 17}, "--image-size 17 is not one of 16, 32, 64, 128"),
    ({"batch_size": 0}, "--batch-size must be positive, got 0"),
    ({"lr_d": float("nan")}, "--lr-d must be in (0, 1e+30], got nan"),
    ({"noise": ""}, "--noise '' is not one of normal, uniform"),
    ({"recipe": "fast"}, "--recipe 'fast' is not one of default, example"),
])
def test_a_wrong_train_config_is_refused_when_built_and_nothing_is_written(tmp_path, monkeypatch, given, expected):
    monkeypatch.chdir(tmp_path)
    assert refused(TrainConfig, out=str(tmp_path / "run"), **given) == expected
    assert list(tmp_path.iterdir()) == []


def test_a_train_config_takes_ints_for_floats_and_paths_for_folders(tmp_path):
    cfg = TrainConfig(eval_every=1, until_fid=0, out=tmp_path / "run", data_dir=tmp_path)
    assert (cfg.eval_every, cfg.out, cfg.data_dir) == (1, str(tmp_path / "run"), str(tmp_path))
    assert json.loads(json.dumps(cfg.to_json()))["out"] == str(tmp_path / "run")  # run.json can hold it


def test_replace_checks_again(tmp_path):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "run"))
    assert dataclasses.replace(cfg, epochs=3).epochs == 3 and dataclasses.replace(cfg).lr_g == cfg.lr_g
    assert refused(dataclasses.replace, cfg, epochs=0) == ("--epochs must be in (0, 1000000], got 0 (a forecast of a "
                                                           "longer run overflows the calendar)")
    assert refused(dataclasses.replace, cfg, max_steps=2.5) == "TrainConfig.max_steps must be a whole number, got " \
        "2.5 (float)"


def test_run_json_keeps_its_own_message_naming_the_file(tmp_path):
    options = {**TrainConfig(**TINY).to_json(), "epochs": True}
    (tmp_path / "run.json").write_text(json.dumps(options))
    line = refused(load_run_options, tmp_path)
    assert line == f"--resume {tmp_path}: run.json's epochs must be a whole number, got True (bool)"


@pytest.mark.parametrize("given, expected", [
    ({"bn": "bogus"}, "--bn 'bogus' is not one of eval, train"),
    ({"bn": ""}, "--bn '' is not one of eval, train"),
    ({"weights": "bogus"}, "--weights 'bogus' is not one of raw, ema"),
    ({"num": 2.5}, "SampleConfig.num must be a whole number, got 2.5 (float)"),
    ({"num": 0}, "--num must be in [1, 100000], got 0 (they are held in memory at once)"),
    ({"nice": "yes"}, "SampleConfig.nice must be true or false, got 'yes' (str)"),
])
def test_a_wrong_sample_config_is_refused_when_built(given, expected):
    assert refused(SampleConfig, **given) == expected


def test_a_sample_config_leaves_unset_what_its_command_fills_in():
    cfg = SampleConfig(checkpoint=Path("runs/x"), weights="", noise="")
    assert (cfg.checkpoint, cfg.weights, cfg.noise) == ("runs/x", "", "")


# --- generate, load_generator, evaluate, make_dcgan_sym --------------------------------------------------------

G_FILE = "module_save_params/mnist_G_2017_10_09-10_00-0000.params"  # the example's 64 px G, 3 channels


@pytest.fixture(scope="module")
def generator():
    return mxgan.load_generator(fixtures() / G_FILE)  # a Path, as well as a str


@pytest.mark.parametrize("given, expected", [
    ({"num": 0}, "num must be in [1, 100000], got 0 (they are held in memory at once)"),
    ({"num": -3}, "num must be in [1, 100000], got -3"),
    ({"num": 2.5}, "num must be a whole number, got 2.5 (float)"),
    ({"num": True}, "num must be a whole number, got True (bool)"),
    ({"num": 2, "seed": -1}, "seed must be 0 or more, got -1"),
    ({"num": 2, "seed": "1"}, "seed must be a whole number, got '1' (str)"),
    ({"num": 2, "bn": "bogus"}, "bn 'bogus' is not one of eval, train"),
    ({"num": 2, "contexts": "cpu"}, "contexts must be a list of devices, such as [mx.cpu()] or [mx.gpu(0)], got "
                                    "'cpu'"),
    ({"num": 2, "digits": [1, 2]}, "digits are for conditional models (trained with --conditional)"),
])
def test_generate_checks_its_arguments(generator, given, expected):
    assert refused(mxgan.generate, generator, **given).startswith(expected)


def test_generate_takes_a_loaded_generator_only(generator):
    line = refused(mxgan.generate, "runs/x", num=2)
    assert line == "generator must be a GeneratorCheckpoint from mxgan.load_generator, got str " \
                   "(mxgan.load_generator('runs/x') reads it)"
    assert mxgan.generate(generator, num=2, seed=1).shape == (2, 3, 64, 64)


@pytest.mark.parametrize("spec, weights, expected", [
    (None, None, "spec must be a checkpoint: a file, a prefix or a run folder (a str or Path), got None (NoneType)"),
    ("", None, "spec must be a checkpoint: a file, a prefix or a run folder (a str or Path), got '' (str)"),
    (3, None, "spec must be a checkpoint: a file, a prefix or a run folder (a str or Path), got 3 (int)"),
    (G_FILE, "bogus", "weights 'bogus' is not one of raw, ema"),
    (G_FILE, "", "weights '' is not one of raw, ema"),
])
def test_load_generator_checks_its_arguments(spec, weights, expected):
    spec = str(fixtures() / spec) if spec == G_FILE else spec
    assert refused(mxgan.load_generator, spec, weights) == expected


@pytest.mark.parametrize("given, expected", [
    ({"num": 100.5}, "num must be a whole number, got 100.5 (float)"),
    ({"num": 5}, "num must be in [10, 100000], got 5 (a Frechet distance"),
    ({"seed": -2}, "seed must be 0 or more, got -2"),
    ({"data_dir": 3}, "data_dir must be the folder holding mnist/ (a str or Path), got 3"),
    ({"contexts": [3]}, "contexts must be a list of devices"),
])
def test_evaluate_checks_its_arguments_before_any_work(generator, given, expected):
    assert refused(mxgan.evaluate, generator, **given).startswith(expected)


def test_evaluate_takes_a_loaded_generator_only():
    assert refused(mxgan.evaluate, None).startswith("generator must be a GeneratorCheckpoint from "
                                                    "mxgan.load_generator, got NoneType")


@pytest.mark.parametrize("args, given, expected", [
    (("8", 8, 1), {}, "ngf must be a whole number, got '8' (str)"),
    ((0, 8, 1), {}, "ngf must be in [1, 1000000], got 0"),
    ((8, 10**9, 1), {}, "ndf must be in [1, 1000000], got 1000000000"),
    ((8, 8.0, 1), {}, "ndf must be a whole number, got 8.0 (float)"),
    ((8, 8, True), {}, "nc must be a whole number, got True (bool)"),
    ((8, 8, 1), {"image_size": 17}, "image size 17 is not supported; use one of 16, 32, 64, 128"),
    ((8, 8, 1), {"image_size": 64.0}, "image size 64.0 is not supported"),
    ((8, 8, 1), {"image_size": "64"}, "image size '64' is not supported"),
    ((8, 8, 1), {"conditional": "yes"}, "conditional must be true or false, got 'yes' (str)"),
    ((8, 8, 1), {"eps": 0}, "eps must be positive, got 0"),
    ((8, 8, 1), {"cudnn_tune": "fast"}, "cudnn_tune 'fast' is not one of off, limited_workspace, fastest"),
])
def test_make_dcgan_sym_checks_its_arguments(args, given, expected):
    assert refused(mxgan.make_dcgan_sym, *args, **given).startswith(expected)


def test_make_dcgan_sym_builds_what_it_is_asked_for():
    symG, symD = mxgan.make_dcgan_sym(8, 8, 1, image_size=16)
    assert symG.infer_shape(rand=(2, 100, 1, 1))[1] == [(2, 1, 16, 16)]
    assert symD.infer_shape(data=(2, 1, 16, 16), label=(2,))[1] == [(2, 1)]


# --- hooks: checked when train() starts -------------------------------------------------------------------------

class Counter(mxgan.Hook):
    """A correct hook, with attributes that merely look like hook methods."""

    after_count = 0  # not callable: data, not a method

    def __init__(self):
        self.steps = 0

    @property
    def after_all(self):  # a property is no method the trainer would call
        return self.steps

    def after_step(self, run):
        self.steps += 1


class Misspelt(mxgan.Hook):
    def after_steps(self, run):
        pass


class KerasNamed(mxgan.Hook):
    def on_epoch_end(self, run):
        pass


class NoRun(mxgan.Hook):
    def after_epoch(self):
        pass


@pytest.mark.parametrize("hooks, expected", [
    ([Counter(), object()], "hooks[1] is <object object at"),
    ([Counter], "hooks[0] is the class Counter, not a hook: pass an instance, Counter()"),
    (Counter(), "hooks must be a list of mxgan.Hook instances, got <"),
    ("after_step", "hooks must be a list of mxgan.Hook instances, got 'after_step' (str)"),
    ([Counter(), Misspelt()], "hooks[1] (Misspelt) has after_steps, which the trainer never calls; a hook's "
                              "methods are before_train, after_step, after_epoch, after_train"),
    ([KerasNamed()], "hooks[0] (KerasNamed) has on_epoch_end, which the trainer never calls"),
    ([NoRun()], "hooks[0] (NoRun): after_epoch must take the run, as def after_epoch(self, run)"),
])
def test_hooks_that_the_trainer_could_not_call_are_refused_naming_their_place(hooks, expected):
    assert refused(check_hooks, hooks).startswith(expected)


def test_hooks_that_keep_the_contract_pass():
    hooks = (Counter(), mxgan.Hook())
    assert check_hooks(hooks) == list(hooks) and check_hooks([]) == []


def test_train_refuses_a_wrong_hook_before_any_work(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(**TINY, max_steps=1, out=str(tmp_path / "run"))
    line = refused(mxgan.train, cfg, hooks=[Counter(), Misspelt()], announce=lambda line: None)
    assert line.startswith("hooks[1] (Misspelt) has after_steps")
    assert list(tmp_path.iterdir()) == []


# --- the view a user's hook gets: read only -----------------------------------------------------------------------

def public(kind: type) -> set[str]:
    return {name for name in dir(kind) if not name.startswith("_")}


class Meddler(mxgan.Hook):
    """Tries every way of changing the run through its view; records what each attempt did."""

    def __init__(self, elsewhere: Path):
        self.elsewhere, self.refusals, self.seen = elsewhere, [], []

    def _try(self, change):
        try:
            change()
        except AttributeError as exc:
            self.refusals.append(str(exc))

    def after_step(self, run):
        self.seen.append((type(run), run.progress.iteration, run.cfg.log_every, run.out))
        self._try(lambda: setattr(run.cfg, "log_every", 0))
        self._try(lambda: delattr(run.cfg, "log_every"))
        self._try(lambda: setattr(run, "out", self.elsewhere))
        self._try(lambda: setattr(run, "cfg", TrainConfig()))
        self._try(lambda: setattr(run, "anything", 1))
        run.progress.batch = 0  # a copy: the epoch still ends where it does
        run.progress.iteration = 100
        run.metrics["errD"] = float("nan")  # a copy: the record, and the result, keep theirs
        if run.outputs is not None:
            run.outputs.D_x = None


def test_a_hook_cannot_change_the_run_through_its_view(tmp_path):
    assert public(ReadOnlyRun) == {name for name in public(RunView) if name not in public(object)}
    out, elsewhere = tmp_path / "run", tmp_path / "elsewhere"
    hook = Meddler(elsewhere)
    cfg = TrainConfig(**TINY, max_steps=3, log_every=1, sample_every=0, out=str(out))
    result = mxgan.train(cfg, hooks=[hook], announce=lambda line: None)
    assert result.iterations == 3 and result.checkpoint is not None and result.checkpoint.parent == out
    assert (out / "state.json").is_file() and not elsewhere.exists()
    assert [(kind, i, every, where) for kind, i, every, where in hook.seen] == \
        [(ReadOnlyRun, i, 1, out) for i in (1, 2, 3)]
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["iteration"] for line in lines if "errD" in line] == [1, 2, 3]  # log_every stayed 1
    assert result.metrics["errD"] == result.metrics["errD"]  # not the NaN the hook wrote into its copy
    assert len(hook.refusals) == 15 and all("read-only" in message for message in hook.refusals)
    assert "run.cfg.log_every is read-only" in hook.refusals[0] and "run.out is read-only" in hook.refusals[2]


def test_the_views_options_are_a_train_config_that_refuses_assignment(tmp_path):
    cfg = TrainConfig(**TINY, out=str(tmp_path / "run"))
    trainer = type("Trainer", (), {"cfg": cfg})()
    view = ReadOnlyRun(trainer)  # type: ignore[arg-type]
    assert isinstance(view.cfg, TrainConfig) and view.cfg.to_json() == cfg.to_json() and view.cfg is not cfg
    assert dataclasses.replace(view.cfg, epochs=2).epochs == 2  # a new copy of its own
    with pytest.raises(AttributeError, match="run.cfg.epochs is read-only"):
        view.cfg.epochs = 2
    assert cfg.epochs == view.cfg.epochs == 25


# --- train's own arguments, and what a hook hands the checkpoint ----------------------------------------------------

@pytest.mark.parametrize("cfg, announce, expected", [
    ({"dataset": "synthetic"}, None, "train takes a TrainConfig (mxgan.TrainConfig(dataset=...)), got dict"),
    (None, None, "train takes a TrainConfig (mxgan.TrainConfig(dataset=...)), got NoneType"),
    ("TINY", 5, "announce must be a function of one str (or None: the mxgan logger), got int"),
])
def test_train_refuses_what_is_not_its_arguments_before_any_work(tmp_path, monkeypatch, cfg, announce, expected):
    monkeypatch.chdir(tmp_path)
    given = TrainConfig(**TINY, max_steps=1, out=str(tmp_path / "run")) if cfg == "TINY" else cfg
    assert refused(mxgan.train, given, announce=announce) == expected
    assert list(tmp_path.iterdir()) == []


class Keeps(mxgan.Hook):
    """A hook whose state is ``kept`` (what its state_dict returns), and which fails to load any saved state."""

    def __init__(self, kept):
        self.kept = kept

    def state_dict(self):
        return self.kept

    def load_state_dict(self, state):
        raise KeyError("window")


@pytest.mark.parametrize("kept, expected", [
    ({"when": Path("x")}, "Object of type PosixPath is not JSON serializable"),
    ({"best": float("nan")}, "Out of range float values are not JSON compliant"),
    ([1, 2], "a dict, got list"),
])
def test_a_hook_state_no_checkpoint_can_keep_is_refused_before_any_work(tmp_path, monkeypatch, kept, expected):
    monkeypatch.chdir(tmp_path)
    cfg = TrainConfig(**TINY, max_steps=1, out=str(tmp_path / "run"))
    line = refused(mxgan.train, cfg, hooks=[Keeps(kept)], announce=lambda line: None)
    assert line.startswith("hook Keeps: state_dict() must return a dict of JSON values") and expected in line, line
    assert list(tmp_path.iterdir()) == []


def test_a_hook_that_cannot_load_its_saved_state_is_one_line_naming_it(tmp_path):
    out = tmp_path / "run"
    mxgan.train(TrainConfig(**TINY, max_steps=2, out=str(out)), hooks=[Keeps({"window": [1]})],
                announce=lambda line: None)
    line = refused(mxgan.train, TrainConfig(resume=str(out), max_steps=4), hooks=[Keeps({})],
                   announce=lambda line: None)
    assert line.startswith("hook Keeps: load_state_dict() failed on the state its last checkpoint set kept "
                           "(KeyError: 'window')"), line


def test_generate_refuses_a_gpu_this_machine_cannot_run_on(generator):
    import mxnet as mx

    if mx.context.num_gpus() and mx.runtime.Features().is_enabled("CUDA"):
        pytest.skip("a GPU is here: generate runs on it")
    assert refused(mxgan.generate, generator, num=2, contexts=[mx.gpu(0)]).startswith("contexts [gpu(0)]: ")
