"""A hostile environment: settings MXNet reads at start-up, warnings made errors, a locale that cannot decode the
command line, damaged dataset files, immutable run folders, a folder where a file goes, a file-size limit. Each
is one line and exit 2, checked before any work, with nothing lost or left behind (or, where it can, it works)."""

import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import mxnet as mx
import numpy as np
import pytest
from helpers import REPO, fixtures, mnist_data_dir, one_line, run_cli, run_main, tiny, wait_for

from mxgan.checkpoints.run_folder import read_run_state
from mxgan.constants import METRICS_FILE
from mxgan.errors import MxganError
from mxgan.runtime.fileio import StagedOutputs, write_atomic, write_bytes_atomic

TINY = tiny(1000)
CORES = len(os.sched_getaffinity(0))


def _generator() -> str:
    """A 64 px generator of 8 filters, written by stock MXNet (made once, on first use)."""
    return str(fixtures() / "module_save_params")


def _listing(folder: Path) -> dict[str, int]:
    """Every file under ``folder`` with its size (what a refused command must leave as it was)."""
    return {str(p.relative_to(folder)): p.stat().st_size for p in sorted(folder.rglob("*")) if p.is_file()}


# --- settings MXNet reads at start-up --------------------------------------------------------------------------


@pytest.mark.parametrize("variable, value, expected", [
    ("OMP_NUM_THREADS", "2,abc", f"OMP_NUM_THREADS='2,abc' in the environment is a list; MXNet 1.9.1 reads one "
                                 f"positive number of threads there: set it to 1-{CORES}"),
    ("OMP_NUM_THREADS", "2,2", "OMP_NUM_THREADS='2,2' in the environment is a list"),
    ("OMP_NUM_THREADS", "\u0662", f"OMP_NUM_THREADS='\u0662' in the environment is not a positive number of "
                                  f"threads; set it to 1-{CORES}"),
    ("MXNET_CPU_WORKER_NTHREADS", "1,x", "MXNET_CPU_WORKER_NTHREADS='1,x' in the environment is a list"),
    ("OMP_NUM_THREADS", "100000", "OMP_NUM_THREADS='100000' in the environment asks for more than 1024 threads, "
                                  "which OpenMP fails to start"),
    ("MXNET_ENGINE_TYPE", "Turbo", "MXNET_ENGINE_TYPE='Turbo' in the environment is not one of MXNet's engines, "
                                   "ThreadedEnginePerDevice, ThreadedEngine, NaiveEngine; set one of them or unset it"),
    ("MXNET_ENGINE_TYPE", "", "MXNET_ENGINE_TYPE='' in the environment is not one of MXNet's engines"),
    ("MXNET_SUBGRAPH_BACKEND", "ONEDNN", "MXNET_SUBGRAPH_BACKEND='ONEDNN' in the environment is not a subgraph "
                                         "backend of MXNet 1.9.1 (MKLDNN, MKLDNN_QUANTIZE, default, default_v2; NONE "
                                         "turns them off)"),
])
def test_settings_mxnet_would_abort_on_are_one_line_before_any_work(tmp_path, monkeypatch, variable, value, expected):
    monkeypatch.setenv(variable, value)
    line = one_line(run_main("run_dcgan.py", *TINY, "--max-steps", "1", "--out", str(tmp_path / "run")))
    assert line.endswith(expected) or expected in line, line
    assert not list(tmp_path.iterdir())


def test_an_unknown_engine_is_one_line_in_a_real_process_too(tmp_path):
    """MXNet itself reads MXNET_ENGINE_TYPE as it is imported, and dies with a C++ traceback."""
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "1", "--out", str(tmp_path / "run"),
                     env={"MXNET_ENGINE_TYPE": "garbage"})
    assert "MXNET_ENGINE_TYPE='garbage' in the environment is not one of MXNet's engines" in one_line(result)
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("variable, value", [("MXNET_ENGINE_TYPE", "NaiveEngine"), ("MXNET_SUBGRAPH_BACKEND", "NONE"),
                                             ("MXNET_SUBGRAPH_BACKEND", "")])
def test_the_settings_mxnet_takes_pass(monkeypatch, variable, value):
    from mxgan.runtime.env import check_environment

    monkeypatch.setenv(variable, value)
    check_environment()


def test_warnings_made_errors_do_not_break_training_or_plotting(tmp_path):
    """PYTHONWARNINGS=error: MXNet's import reads NumPy aliases deprecated since 1.20, matplotlib pyparsing's old
    names; those are no error of the user's, and mxgan lets them pass."""
    run = tmp_path / "run"
    env = {"PYTHONWARNINGS": "error"}
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "2", "--sample-every", "1", "--out", str(run), env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    assert read_run_state(run).progress.iteration == 2
    result = run_cli("-m", "mxgan", "plot", str(run), env=env)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr


def test_a_name_the_c_locale_cannot_decode_is_one_line_not_a_crash(tmp_path):
    """LC_ALL=C with PYTHONUTF8=0: Python reads ``grüße.png`` as lone surrogates, which OpenCV crashed on
    (a segmentation fault) and MXNet cannot encode."""
    env = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    out = tmp_path / "grüße.png"
    line = one_line(run_cli("-m", "mxgan", "sample", "--checkpoint", _generator(), "--num", "4",
                            "--out", str(out), env=env))
    assert "--out " in line and "the name is not ASCII and this process reads its command line as ascii" in line
    assert "run with PYTHONUTF8=1 (or LC_ALL=C.UTF-8), or choose an ASCII name" in line
    assert not list(tmp_path.iterdir())
    result = run_cli("-m", "mxgan", "sample", "--checkpoint", _generator(), "--num", "4", "--out", str(out),
                     env={**env, "PYTHONUTF8": "1"})  # the way out the line names
    assert result.returncode == 0 and out.is_file(), result.stderr


# --- damaged dataset files ------------------------------------------------------------------------------------


def _damage(path: Path, how: str) -> None:
    content = (mnist_data_dir() / "mnist" / path.name).read_bytes()
    if how == "truncated":  # EOFError
        content = content[:len(content) // 2]
    elif how == "corrupt":  # zlib.error
        content = content[:20] + bytes(b ^ 0xFF for b in content[20:60]) + content[60:]
    else:  # a wrong CRC: gzip.BadGzipFile
        content = content[:-8] + bytes(4) + content[-4:]
    path.write_bytes(content)


@pytest.fixture
def damaged_mnist(tmp_path, request):
    """A data folder whose mnist/ holds the real files but a damaged train-labels .gz."""
    folder = tmp_path / "data" / "mnist"
    folder.mkdir(parents=True)
    for source in (mnist_data_dir() / "mnist").glob("*.gz"):
        if source.name != "train-labels-idx1-ubyte.gz":
            (folder / source.name).symlink_to(source)
    damaged = folder / "train-labels-idx1-ubyte.gz"
    _damage(damaged, request.param)
    return tmp_path / "data", damaged


@pytest.mark.parametrize("damaged_mnist", ["truncated", "corrupt", "crc"], indirect=True)
def test_a_damaged_gz_is_one_line_naming_it_and_how_to_fetch_it_again(tmp_path, damaged_mnist):
    data, damaged = damaged_mnist
    before = _listing(data)
    fetch = f"delete it and run mxgan download mnist --data-dir {data} to fetch it again"
    line = one_line(run_main("run_dcgan.py", *tiny(500, dataset="mnist"), "--data-dir", str(data), "--max-steps", "1",
                             "--out", str(tmp_path / "run")))
    assert f"{damaged}: cannot read (" in line and "): damaged; " in line and line.endswith(fetch), line
    line = one_line(run_main("-m", "mxgan", "download", "mnist", "--data-dir", str(data)))
    assert f"{damaged}: cannot read (" in line and "): damaged; " in line and line.endswith(fetch), line
    assert not (tmp_path / "run").exists() and _listing(data) == before


# --- immutable run folders, a folder where a file goes -----------------------------------------------------------


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    """A 2-step run folder (one checkpoint set, a grid), copied fresh for each test that spoils it."""
    run = tmp_path_factory.mktemp("finished") / "run"
    result = run_cli("run_dcgan.py", *TINY, "--max-steps", "2", "--sample-every", "2", "--out", str(run))
    assert result.returncode == 0, result.stderr
    return run


@pytest.fixture
def immutable(tmp_path):
    """``chattr +i`` on the paths given to it (taken back at the end), or a skip where chattr cannot."""
    made: list[Path] = []

    def make(path: Path) -> None:
        assert path.exists(), path
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"chattr +i does not work here ({done.stderr.strip() or 'no chattr'}): needs root on ext4, "
                        "xfs or btrfs")
        made.append(path)

    yield make
    for path in made:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def _copy(run: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


@pytest.mark.parametrize("what", ["metrics.jsonl", "state.json", ".lock"])
def test_an_immutable_file_of_a_run_is_one_line_before_the_resume_starts(finished_run, tmp_path, immutable, what):
    run = _copy(finished_run, tmp_path)
    immutable(run / what)
    before = _listing(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "4"))
    assert line.endswith(f"--resume {run}: {what} in it cannot be changed (made immutable with chattr +i, or "
                         "read-only); make it writable again (chattr -i, chmod u+w) or choose another --resume"), line
    assert _listing(run) == before


def test_an_immutable_run_folder_is_one_line_before_the_resume_starts(finished_run, tmp_path, immutable):
    run = _copy(finished_run, tmp_path)
    immutable(run)
    before = _listing(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "4"))
    assert line.endswith(f"--resume {run} is not writable (Operation not permitted); choose another folder"), line
    assert _listing(run) == before


def test_a_log_made_immutable_while_training_is_one_line_and_the_run_resumes(tmp_path, immutable):
    """What no check before the run can see: metrics.jsonl made immutable as the run goes."""
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "run_dcgan.py", *TINY, "--max-steps", "100000", "--log-every", "1",
                             "--checkpoint-every", "2", "--out", str(run)], cwd=REPO,  # synthetic: no data
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: _lines(run / METRICS_FILE) >= 3 or proc.poll() is not None, what="step 3 (a set at 2)")
        immutable(run / METRICS_FILE)
        _, stderr = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 2 and len(stderr.strip().splitlines()) == 1 and "Traceback" not in stderr, stderr
    assert stderr.strip() == (f"run_dcgan.py: error: {run / METRICS_FILE}: Operation not permitted (is it immutable? "
                              "lsattr shows it, chattr -i undoes it); fix it and run again (a training run continues "
                              "from its last checkpoint with --resume)")
    subprocess.run(["chattr", "-i", str(run / METRICS_FILE)], check=True)
    stopped = read_run_state(run).progress.iteration
    assert run_cli("run_dcgan.py", "--resume", str(run), "--max-steps", str(stopped + 2)).returncode == 0


def test_a_folder_named_as_a_grid_of_the_run_is_one_line_before_the_resume_starts(finished_run, tmp_path):
    run = _copy(finished_run, tmp_path)
    (run / "samples-0000004.png").mkdir()
    before = _listing(run)
    line = one_line(run_main("run_dcgan.py", "--resume", str(run), "--max-steps", "4", "--sample-every", "2"))
    assert line.endswith(f"--resume {run}: samples-0000004.png in it is a folder, where mxgan writes a file of that "
                         "name; move it away or choose another --resume"), line
    assert _listing(run) == before and (run / "samples-0000004.png").is_dir()


def test_a_folder_in_the_way_of_an_output_is_one_line_and_nothing_is_put_in_place(tmp_path):
    """Whatever the command, a folder where a file goes stops the commit before any rename."""
    (tmp_path / "grid.png").mkdir()
    with pytest.raises(MxganError) as info, StagedOutputs() as outputs:
        outputs.content(tmp_path / "a.json", b"{}")
        outputs.content(tmp_path / "grid.png", b"png")
        outputs.commit()
    assert str(info.value) == (f"could not write {tmp_path / 'grid.png'}: a folder of that name is in the way; move "
                               "or rename it and run again (nothing earlier was overwritten; a training run "
                               "continues with --resume)")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png"]


def test_sample_onto_a_folder_is_one_line(tmp_path):
    (tmp_path / "grid.png").mkdir()
    line = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", _generator(), "--num", "4",
                             "--out", str(tmp_path / "grid.png")))
    assert line.endswith(f"--out {tmp_path / 'grid.png'} is a folder; give a file name"), line
    assert [p.name for p in tmp_path.iterdir()] == ["grid.png"] and not any((tmp_path / "grid.png").iterdir())


# --- a file-size limit (ulimit -f) ----------------------------------------------------------------------------


@pytest.fixture
def file_size_limit():
    """This process may write files of 16 KiB at most (Python ignores SIGXFSZ: a longer write fails with EFBIG)."""
    saved = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (16 * 1024, saved[1]))
    try:
        yield "file-size limit (16 KiB, ulimit -f); raise it (ulimit -f unlimited) and run again"
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, saved)


def test_a_file_size_limit_is_named_as_such_not_as_a_full_disk(tmp_path, file_size_limit):
    target = tmp_path / "state.json"
    target.write_text("previous")
    with pytest.raises(MxganError) as python_write:
        write_bytes_atomic(target, b"x" * 100_000)
    with pytest.raises(MxganError) as mxnet_write:  # MXNet's own short write: "FileStream.Write incomplete"
        write_atomic(tmp_path / "g.params", lambda tmp: mx.nd.save(tmp, {"arg:w": mx.nd.array(np.ones((256, 256)))}))
    for info, path in ((python_write, target), (mxnet_write, tmp_path / "g.params")):
        message = str(info.value)
        assert message.startswith(f"could not write {path}: it would pass this process's {file_size_limit}")
        assert "no space" not in message
    assert target.read_text() == "previous" and sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_sample_past_the_file_size_limit_is_one_line(tmp_path, file_size_limit):
    out = tmp_path / "grid.png"
    line = one_line(run_main("-m", "mxgan", "sample", "--checkpoint", _generator(), "--num", "16",
                             "--out", str(out)))
    assert f"could not write {out}: it would pass this process's {file_size_limit}" in line
    assert not list(tmp_path.iterdir())


# --- mxgan eval --all over damaged checkpoint sets ----------------------------------------------------------------


def test_eval_all_passes_over_a_damaged_set_with_one_line_and_evaluates_the_others(tmp_path):
    run = tmp_path / "run"
    result = run_cli("run_dcgan.py", *tiny(500, dataset="mnist"), "--data-dir", str(mnist_data_dir()),
                     "--max-steps", "6", "--checkpoint-every", "2", "--eval-every", "0", "--out", str(run))
    assert result.returncode == 0, result.stderr
    sets = read_run_state(run).checkpoints
    assert len(sets) == 3
    (run / sets[0].files["G_ema"]).unlink()  # missing
    (run / sets[1].files["G_ema"]).write_bytes(b"cut")  # damaged
    before = _listing(run)
    evaluated = run_main("-m", "mxgan", "eval", "--checkpoint", str(run), "--all", "--num", "10")
    assert evaluated.returncode == 0, evaluated.stderr
    lines = evaluated.stderr.strip().splitlines()
    assert lines == [f"warning: passed over the set of iteration 2 ({sets[0].files['G']}): "
                     f"{sets[0].files['G_ema']} is missing",
                     f"warning: passed over the set of iteration 4 ({sets[1].files['G']}): "
                     f"{sets[1].files['G_ema']} has 3 bytes where {sets[1].sizes['G_ema']} were written"], lines
    rows = [line for line in evaluated.stdout.splitlines() if line.startswith("mnist_G")]
    assert len(rows) == 1 and rows[0].startswith(sets[2].files["G_ema"]), evaluated.stdout
    (run / sets[2].files["G_ema"]).unlink()
    nothing = run_main("-m", "mxgan", "eval", "--checkpoint", str(run), "--all", "--num", "10")
    assert nothing.returncode == 2 and len(nothing.stderr.strip().splitlines()) == 4, nothing.stderr
    assert nothing.stderr.strip().splitlines()[-1] == (f"mxgan: error: --all {run}: none of its 3 checkpoint sets "
                                                       "could be measured (each said above); resume the run or train "
                                                       "again to write good ones")
    assert _listing(run) == {k: v for k, v in before.items() if k != sets[2].files["G_ema"]}
