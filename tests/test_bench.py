"""bench/throughput.py: a smoke run of one tiny configuration (timings belong in bench/, not here)."""

import json
import os
import runpy
import socket
import sys
from pathlib import Path

import pytest
from helpers import REPO, TINY_NETWORK, one_line, run_cli
from test_bfloat16 import needs_amx

from mxgan.bench.profile import kernel_family, parse_line
from mxgan.bench.throughput import BFLOAT16_GEMM, flops_per_training_image
from mxgan.config import BenchConfig

TINY = [*TINY_NETWORK, "--batch-size", "8", "--repeats", "1", "--steps", "1", "--gemm-size", "512", "--rss-steps", "2",
        "--variants"]


def test_smoke_run_prints_a_table_and_writes_json(tmp_path):
    result = run_cli("bench/throughput.py", *TINY, "--json", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    assert "train img/s" in result.stdout and "peak RSS" in result.stdout
    data = json.loads((tmp_path / "b.json").read_text())
    row = data["rows"][0]
    for key in ("mxgan_train", "mxgan_infer", "train_gflops", "train_vs_gemm_peak", "data", "data_vs_train"):
        assert row[key] > 0, key
    assert data["gemm_gflops"]["numpy"] > 0 and data["peak_rss_mb_mnist_training"] > 0
    assert len(data["variants"]) == 8 and all(v > 0 for v in data["variants"].values())
    recipes = [name for name in data["variants"] if name.startswith("a step of --recipe")]
    assert len(recipes) == 2 and any("2 G updates, EMA" in name for name in recipes)
    assert row["ema_vs_train"] > 0 and row["wait_vs_queued"] > 0  # measured side by side (no speed is asserted)


def test_flops_of_the_64px_dcgan_match_the_hand_count():
    # per image, forward: G 104.3M MACs, D 103.6M MACs (4x4 kernels, counted layer by layer)
    k = 4 * 4
    g = (1 * 1 * 100 * 512 + 4 * 4 * 512 * 256 + 8 * 8 * 256 * 128 + 16 * 16 * 128 * 64 + 32 * 32 * 64 * 3) * k
    d = (32 * 32 * 3 * 64 + 16 * 16 * 64 * 128 + 8 * 8 * 128 * 256 + 4 * 4 * 256 * 512 + 1 * 1 * 512 * 1) * k
    assert flops_per_training_image(BenchConfig()) == 3 * 2 * g + 9 * 2 * d


@pytest.mark.parametrize("flags, expected", [
    (["--ctx", "gpu0"], "pip install '.[gpu]'"),
    (["--batch-size", "8", "0"], "--batch-size must be positive, got 0"),
    (["--image-size", "40"], "--image-size 40 is not one of 16, 32, 64, 128"),
])
def test_bad_bench_flags(flags, expected):
    result = run_cli("bench/throughput.py", *flags)
    assert result.returncode == 2 and expected in result.stderr and len(result.stderr.splitlines()) == 1


def test_compare_torch_without_torch_says_how_to_install():
    code = ("import sys; sys.modules['torch'] = None; from mxgan.cli import main; "
            "sys.exit(main(['bench', '--compare', 'torch'], prog='bench/throughput.py'))")
    result = run_cli("-c", code)
    assert result.returncode == 2 and "pip install '.[bench]'" in result.stderr


def test_profile_splits_a_real_step_by_operator(tmp_path):
    result = run_cli("bench/throughput.py", "--profile", *TINY[:10], "--gemm-size", "512", "--channels", "1",
                     "--g-steps", "2", "--json", str(tmp_path / "p.json"))
    assert result.returncode == 0, result.stderr
    assert "16x16x1, batch 8, ngf 8, ndf 8, 2 G updates a step" in result.stdout
    profile = json.loads((tmp_path / "p.json").read_text())["profile"]
    operators = profile["operators"]
    for name in ("D Convolution forward", "D Convolution backward, input gradient", "G Deconvolution forward",
                 "BatchNorm forward", "outside oneDNN (Adam, loss, copies, engine)"):
        assert name in operators and name in result.stdout, name
    assert sum(row["ms"] for row in operators.values()) == pytest.approx(profile["step_ms"], rel=0.01)
    assert operators["D Convolution forward"]["kernels"] and "kernels" in result.stdout  # which unit ran each
    # D's forward ran 4 times a step (fake, real, and once per G update), each over its 4 convolutions
    d_forward = 2 * 8 * (8 * 8 * 8 * 1 + 4 * 4 * 16 * 8 + 1 * 1 * 1 * 16) * 16 / 2  # MACs of one pass, batch 8
    assert operators["D Convolution forward"]["macs"] == 4 * d_forward


def test_race_times_each_contender_in_a_process_of_its_own():
    from dataclasses import asdict

    from mxgan.bench.race import MXGAN, race

    config = asdict(BenchConfig(image_size=16, ngf=8, ndf=8, steps=1, channels=1, g_steps=2))  # the default recipe's
    seconds = race([MXGAN], config, 8, repeats=2)
    assert set(seconds[MXGAN]) == {"train", "train, queued", "train+EMA", "infer"}
    assert all(s > 0 for s in seconds[MXGAN].values())


def test_the_profile_names_the_unit_each_kernel_ran_on():
    amx = ("dnnl_verbose,exec,cpu,convolution,brgconv:avx512_core_amx_bf16,forward_training,src_bf16::blocked:acdb:f0 "
           "wei_bf16::blocked:AcdB16b16a2b:f0 dst_bf16::blocked:acdb:f0,,alg:convolution_direct,"
           "mb64_ic64oc128_ih32oh16kh4sh2dh0ph1_iw32ow16kw4sw2dw0pw1,1.25")
    primitive = parse_line(amx)
    assert primitive is not None and primitive.kernel == "AMX bf16" and primitive.macs == 64 * 128 * 16 * 16 * 64 * 16
    assert kernel_family("jit:avx512_core", "diff_src_f32::blocked:aBcd16b:f0 wei_f32") == "AVX-512 f32"
    assert kernel_family("gemm:jit", "src_f32::blocked:abcd:f0") == "GEMM f32"


@needs_amx
def test_a_bfloat16_bench_writes_its_step_in_the_same_field_with_the_bfloat16_peak(tmp_path):
    result = run_cli("bench/throughput.py", *TINY[:10], "--gemm-size", "512", "--rss-steps", "0", "--dtype",
                     "bfloat16", "--json", str(tmp_path / "b.json"))
    assert result.returncode == 0, result.stderr
    data = json.loads((tmp_path / "b.json").read_text())
    assert data["config"]["dtype"] == "bfloat16" and data["gemm_gflops"][BFLOAT16_GEMM] > 0
    assert data["rows"][0]["mxgan_train"] > 0 and data["rows"][0]["train_vs_bfloat16_gemm"] > 0
    assert "dtype bfloat16" in result.stdout


BENCH_SCRIPTS = ["bench/quality.py", "bench/g_layers.py", "bench/pipelines.py", "bench/launch.py",
                 "bench/classifier.py", "bench/inception.py", "bench/recipe_search.py", "bench/progress.py",
                 "bench/step_ideas.py"]


@pytest.mark.parametrize("script", BENCH_SCRIPTS)
def test_a_bench_script_refuses_a_results_file_it_cannot_write_before_any_work(script, tmp_path, monkeypatch, capsys):
    """Run in this process (each would otherwise start MXNet anew): the refusal is the script's first act."""
    target = tmp_path / "missing" / "results.json"
    monkeypatch.setattr(sys, "argv", [script, "--json", str(target)])
    monkeypatch.setenv("MXGAN_DATA_DIR", str(tmp_path))  # no data: a script that went to work would fail otherwise
    saved = dict(os.environ)
    try:
        with pytest.raises(SystemExit) as exited:
            runpy.run_path(str(REPO / script), run_name="__main__")
    finally:  # the settings a script makes before MXNet loads stay out of later tests
        os.environ.clear()
        os.environ.update(saved)
    assert exited.value.code == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"{Path(script).name}: error: --json {target}: the folder {target.parent} does not exist; create it or "
        "choose another --json"]
    assert not target.parent.exists()


def test_a_bench_script_without_its_data_says_so_in_one_line(tmp_path):
    with socket.socket() as closed:  # a port nothing listens on: the download is refused at once
        closed.bind(("127.0.0.1", 0))
        mirror = f"http://127.0.0.1:{closed.getsockname()[1]}/"
    result = run_cli("bench/classifier.py", env={"MXGAN_DATA_DIR": str(tmp_path), "MXGAN_MIRROR": mirror})
    line = one_line(result)
    assert line.startswith("classifier.py: error: could not download ") and "offline?" in line
