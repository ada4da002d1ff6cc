"""What the writing commands find where they write: an output that exists already (refused without --force), the
temporaries of a process that died while writing (removed) or of one still writing (left alone); and
``bench --profile``'s flags and arithmetic."""

import re
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import REPO, TINY_NETWORK, fixtures, one_line, run_cli, run_main

from mxgan.bench.profile import OUTSIDE, Primitive, format_profile, summarize

LIVE = 1  # init: another process, alive for as long as the machine is


def _generator() -> str:
    """A 64 px generator of 8 filters, written by stock MXNet (made once, on first use)."""
    return str(fixtures() / "module_save_params")


def _dead_pid() -> int:
    """The number of no process: one near the top of the pid range, unused now (the one a killed writer had)."""
    top = int(Path("/proc/sys/kernel/pid_max").read_text())
    return next(pid for pid in range(top - 1, 300, -1) if not Path(f"/proc/{pid}").exists())


def _plant(folder: Path, name: str, pid: int, is_folder: bool = False) -> Path:
    """A temporary of ``name`` as process ``pid`` leaves it while writing."""
    tmp = folder / f".{name}.tmp-{pid}"
    if is_folder:
        tmp.mkdir()
        (tmp / "0000.png").write_bytes(b"half")
    else:
        tmp.write_bytes(b"half")
    return tmp


def _pictures(folder: Path, count: int = 3) -> Path:
    folder.mkdir()
    for i in range(count):
        cv2.imwrite(str(folder / f"{i}.png"), np.full((12, 12, 3), 40 * i, np.uint8))
    return folder


def _sample(out: Path, *more: str):
    return run_main("-m", "mxgan", "sample", "--checkpoint", _generator(), "--num", "4", "--out", str(out), *more)


def _export(prefix: Path, *more: str):
    return run_main("-m", "mxgan", "export", "--checkpoint", _generator(), "--out", str(prefix), *more)


def _pack(pictures: Path, rec: Path, *more: str):
    return run_main("-m", "mxgan", "pack", str(pictures), str(rec), "--size", "8", "--no-progress", *more)


# --- the temporaries of dead and of live writers ----------------------------------------------------------------


def test_sample_removes_what_a_dead_sample_left_and_leaves_a_live_ones(tmp_path):
    dead = _dead_pid()
    stale = [_plant(tmp_path, "g.png", dead), _plant(tmp_path, "g.npy", dead),
             _plant(tmp_path, "each", dead, is_folder=True)]
    live = [_plant(tmp_path, "g.png", LIVE), _plant(tmp_path, "each", LIVE, is_folder=True)]
    result = _sample(tmp_path / "g.png", "--npy", str(tmp_path / "g.npy"), "--separate", str(tmp_path / "each"))
    assert result.returncode == 0, result.stderr
    assert not any(tmp.exists() for tmp in stale) and all(tmp.exists() for tmp in live)
    assert sorted(p.name for p in tmp_path.iterdir() if not p.name.startswith(".")) == ["each", "g.npy", "g.png"]


def test_pack_removes_what_a_dead_pack_left_and_leaves_a_live_ones(tmp_path):
    pictures, dead = _pictures(tmp_path / "pictures"), _dead_pid()
    stale = [_plant(tmp_path, "p.rec", dead), _plant(tmp_path, "p.idx", dead)]
    live = _plant(tmp_path, "p.rec", LIVE)
    result = _pack(pictures, tmp_path / "p.rec")
    assert result.returncode == 0, result.stderr
    assert not any(tmp.exists() for tmp in stale) and live.exists()
    assert (tmp_path / "p.rec").is_file() and (tmp_path / "p.idx").is_file()


def test_export_removes_what_a_dead_export_left_and_leaves_a_live_ones(tmp_path):
    dead = _dead_pid()
    stale = [_plant(tmp_path, "gen-0000.params", dead), _plant(tmp_path, "gen.onnx", dead)]  # --onnx's, too
    live = _plant(tmp_path, "gen-symbol.json", LIVE)
    other = _plant(tmp_path, "notes.txt", dead)  # not export's to decide on
    assert _export(tmp_path / "gen").returncode == 0
    assert not any(tmp.exists() for tmp in stale) and live.exists() and other.exists()


# --- an output that exists already ------------------------------------------------------------------------------


def _old(path: Path) -> Path:
    path.write_bytes(b"the older file")
    return path


def _untouched(folder: Path, *older: Path) -> None:
    assert all(path.read_bytes() == b"the older file" for path in older)
    assert not [p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name.endswith(".lock")]


@pytest.mark.parametrize("flag", ["--out", "--npy"])
def test_sample_refuses_to_replace_an_output_without_force(tmp_path, flag):
    out, npy = tmp_path / "g.png", tmp_path / "g.npy"
    older = _old(out if flag == "--out" else npy)
    line = one_line(_sample(out, "--npy", str(npy)))
    assert line.endswith(f"{flag} {older} exists already; add --force to replace it, or choose another {flag}"), line
    _untouched(tmp_path, older)
    assert sorted(p.name for p in tmp_path.iterdir()) == [older.name]
    assert _sample(out, "--npy", str(npy), "--force").returncode == 0
    assert cv2.imread(str(out)).shape == (128, 128, 3) and np.load(npy).shape == (4, 3, 64, 64)


@pytest.mark.parametrize("existing", ["p.rec", "p.idx"])
def test_pack_refuses_to_replace_a_pack_without_force(tmp_path, existing):
    pictures, rec = _pictures(tmp_path / "pictures"), tmp_path / "p.rec"
    older = _old(tmp_path / existing)
    line = one_line(_pack(pictures, rec))
    named = "" if existing == "p.rec" else f": {older}"
    assert line.endswith(f"OUT.rec {rec}{named} exists already; add --force to replace it, or choose another "
                         "OUT.rec"), line
    _untouched(tmp_path, older)
    assert _pack(pictures, rec, "--force").returncode == 0
    assert (tmp_path / "p.idx").read_text().count("\n") == 3  # one index line a picture


@pytest.mark.parametrize("existing, flags", [("gen-symbol.json", []), ("gen-0000.params", []),
                                             ("gen.onnx", ["--onnx"])])
def test_export_refuses_to_replace_its_files_without_force(tmp_path, existing, flags):
    prefix = tmp_path / "gen"
    older = _old(tmp_path / existing)
    line = one_line(_export(prefix, *flags))
    assert line.endswith(f"--out {prefix}: {older} exists already; add --force to replace it, or choose another "
                         "--out"), line
    _untouched(tmp_path, older)
    assert sorted(p.name for p in tmp_path.iterdir()) == [existing]
    assert _export(prefix, "--force").returncode == 0
    assert (tmp_path / "gen-symbol.json").read_bytes().startswith(b"{")


def test_export_without_onnx_may_leave_an_older_onnx_beside_it(tmp_path):
    _old(tmp_path / "gen.onnx")
    assert _export(tmp_path / "gen").returncode == 0
    _untouched(tmp_path, tmp_path / "gen.onnx")


def _immutable(path: Path) -> None:
    done = subprocess.run(["chattr", "+i", str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"chattr +i does not work here ({done.stderr.strip() or 'no chattr'}): needs root on ext4, xfs or "
                    "btrfs")


def test_export_force_onto_an_immutable_file_is_one_line_and_writes_none_of_its_files(tmp_path):
    prefix = tmp_path / "gen"
    params, symbol = _old(tmp_path / "gen-0000.params"), _old(tmp_path / "gen-symbol.json")
    _immutable(params)
    try:
        line = one_line(_export(prefix, "--force"))
    finally:
        subprocess.run(["chattr", "-i", str(params)], check=True)
    assert f"could not put {params} in place: it may not be replaced (chattr +i?)" in line
    _untouched(tmp_path, params, symbol)  # the symbol file, which commits first, is the older one still


def test_sample_npy_past_the_file_size_limit_is_one_line(tmp_path):
    """numpy's own short write ("N requested and M written") is the file-size limit's, said so."""
    npy = tmp_path / "g.npy"
    command = (f"ulimit -f 64; {sys.executable} -m mxgan sample --checkpoint {_generator()} --num 16 "
               f"--out {tmp_path / 'g.png'} --npy {npy}")
    result = subprocess.run(["bash", "-c", command], cwd=REPO, capture_output=True, text=True, timeout=120)
    line = one_line(result)
    assert f"could not write {npy}: it would pass this process's file-size limit (64 KiB, ulimit -f)" in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_full_standard_output_is_one_line_not_a_traceback():
    result = subprocess.run(["bash", "-c", f"{sys.executable} -m mxgan doctor > /dev/full"], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert one_line(result) == "mxgan: error: could not write the standard output (No space left on device)"


def test_classifier_train_refuses_to_replace_an_out_file_without_force(tmp_path):
    older = _old(tmp_path / "lenet.params")
    line = one_line(run_main("-m", "mxgan", "classifier", "train", "--out", str(older), "--epochs", "1"))
    assert line.endswith(f"--out {older} exists already; add --force to replace it, or choose another --out"), line
    _untouched(tmp_path, older)


def test_sample_recalibration_is_bounded(tmp_path):
    line = one_line(_sample(tmp_path / "g.png", "--recalibrate-bn", "1000000"))
    assert "--recalibrate-bn must be in [0, 1000], got 1000000" in line, line


# --- bench --profile ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("flags, expected", [
    (["--profile", "--batch-size", "8", "16"], "--profile times one batch size, not 2 (8 16); give one --batch-size, "
                                               "or run it once for each"),
    (["--profile", "--compare", "torch"], "--profile and --compare torch do not combine"),
    (["--profile", "--variants"], "--profile and --variants do not combine"),
    (["--gemm-size", "64"], "--gemm-size must be 512 or more, got 64 (a smaller product runs from the caches, "
                            "mostly call overhead: no peak to compare the step with)"),
    (["--profile", "--gemm-size", "16"], "--gemm-size must be 512 or more, got 16"),
])
def test_bench_flags_profile_would_leave_unused_or_meaningless_are_one_line(tmp_path, flags, expected):
    line = one_line(run_main("-m", "mxgan", "bench", *flags, "--json", str(tmp_path / "b.json")))
    assert line.endswith(expected) or expected in line, line
    assert not list(tmp_path.iterdir())


def _shares(table: str) -> list[float]:
    """The share column of the operator rows of a profile table."""
    rows = table.splitlines()[2:]
    return [float(m.group(1)) for row in rows if not row.startswith("the whole step")
            if (m := re.match(r".{44} +[\d.]+ +([\d.]+)%", row))]


def test_profile_shares_add_up_to_the_step_even_when_operators_overlap():
    """Two devices run their operators at once: oneDNN's times add up to more than the step's wall time."""
    def step(wall_ms: float, conv_ms: float) -> tuple[float, list[Primitive]]:
        return wall_ms / 1000, [Primitive("D Convolution forward", conv_ms, 10**6),
                                Primitive("BatchNorm forward", 1, 0)]

    for steps in ([step(10, 6), step(10, 6), step(10, 6)], [step(10, 12), step(10, 14), step(10, 13)]):
        summary = summarize(steps)
        shares = _shares(format_profile(summary, gemm_gflops=100.0, title="t"))
        assert len(shares) == 3 and sum(shares) == pytest.approx(100, abs=0.2), shares
    assert summary["operators"][OUTSIDE]["ms"] == 0 and summary["basis_ms"] == 14  # 13 + 1 in a 10 ms step
    assert "their times add up to 14.0 ms in a 10.0 ms step" in format_profile(summary, 100.0, "t")
    assert "GFLOP/s" in format_profile(summary, 0.0, "t")  # no GEMM figure: no ratio, no division by zero


def test_profile_on_two_cpu_devices_keeps_every_share_within_the_step(tmp_path):
    result = run_cli("-m", "mxgan", "bench", "--profile", "--ctx", "cpu0,cpu1", *TINY_NETWORK, "--batch-size", "8",
                     "--repeats", "1", "--steps", "2", "--gemm-size", "512")
    assert result.returncode == 0, result.stderr
    shares = _shares(result.stdout)
    assert shares and sum(shares) <= 100.5 and max(shares) <= 100, result.stdout
