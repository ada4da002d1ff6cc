"""``--dtype bfloat16`` and ``auto``: AMX asked for safely before MXNet loads, refused in one line where it cannot
run, and a bfloat16 D that trains on float32 weights. Tests that run AMX kernels skip where the CPU has no AMX."""

import json
import os
import subprocess
import sys

import mxnet as mx
import numpy as np
import pytest
from helpers import REPO, final_params, one_line, run_cli, tiny

from mxgan.bench.g_layers import deconvolution_layer, subpixel_layer, subpixel_weight
from mxgan.errors import MxganError
from mxgan.model.modules import GanSpec, build_gan
from mxgan.model.precision import in_bfloat16
from mxgan.model.symbols import make_dcgan_sym
from mxgan.runtime.amx import AMX_ISA, ISA_VARIABLE, NO_AMX_ISA, cpu_flags, detect, set_isa_ceiling
from mxgan.runtime.compat import gradient_arrays
from mxgan.runtime.precision import resolve_dtype
from mxgan.training.step import accumulate_gradients

AMX_CPU = {"amx_bf16", "amx_tile"} <= cpu_flags()
needs_amx = pytest.mark.skipif(not AMX_CPU, reason="this CPU has no AMX (amx_bf16, amx_tile in /proc/cpuinfo)")
REFUSED = "arch_prctl(ARCH_REQ_XCOMP_PERM) refused: Operation not permitted"


def granted() -> str:
    return ""


def refused() -> str:
    return REFUSED


def test_a_cpu_without_bfloat16_units_refuses_bfloat16_and_auto_stays_float32():
    for flags in (set(), {"avx512_bf16"}):
        units = detect(flags, request=granted)
        assert not units.granted
        with pytest.raises(MxganError, match="--dtype bfloat16 needs AMX, granted by Linux; this process has"):
            resolve_dtype("bfloat16", on_gpu=False, units=units)
        assert resolve_dtype("auto", on_gpu=False, units=units) == "float32"
    assert "avx512_bf16 only" in detect({"avx512_bf16"}, request=granted).describe()
    assert detect(set(), request=granted).describe().startswith("none")


def test_amx_is_asked_for_only_where_the_cpu_has_it():
    asked = []
    detect({"avx512_bf16"}, request=lambda: asked.append(1) or "")
    assert asked == []
    units = detect({"amx_bf16", "amx_tile", "avx512_bf16"}, request=granted)
    assert units.granted and resolve_dtype("bfloat16", on_gpu=False, units=units) == "bfloat16"
    # auto: bfloat16 where AMX is granted (measured no worse, docs/quality.md), float32 on a GPU
    assert resolve_dtype("auto", on_gpu=False, units=units) == "bfloat16"
    assert resolve_dtype("auto", on_gpu=True, units=units) == "float32"
    with pytest.raises(MxganError, match="--dtype bfloat16 runs on CPUs only"):
        resolve_dtype("bfloat16", on_gpu=True, units=units)


def test_the_isa_ceiling_is_raised_only_where_granted_and_a_user_s_amx_ceiling_lowered_where_refused():
    amx = {"amx_bf16", "amx_tile", "avx512_bf16"}
    env: dict = {}
    set_isa_ceiling(detect(amx, request=granted), env)
    assert env == {ISA_VARIABLE: AMX_ISA}
    env = {ISA_VARIABLE: "AVX2"}  # the user's own ceiling stays
    set_isa_ceiling(detect(amx, request=granted), env)
    assert env == {ISA_VARIABLE: "AVX2"}
    env = {}
    set_isa_ceiling(detect(amx, request=refused), env)
    assert env == {}
    env = {ISA_VARIABLE: AMX_ISA}
    set_isa_ceiling(detect(amx, request=refused), env)
    assert env == {ISA_VARIABLE: NO_AMX_ISA}


def _refused_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """``tests/refuse_amx.py ARGS`` (the kernel refuses the AMX tile state), without the suite's AMX ceiling."""
    full = {k: v for k, v in os.environ.items() if k != ISA_VARIABLE} | (env or {})
    return subprocess.run([sys.executable, str(REPO / "tests" / "refuse_amx.py"), *args], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=300)


def test_the_kernel_s_refusal_is_one_line_for_bfloat16_and_float32_for_auto(tmp_path):
    refusedrun = _refused_process("mxgan", "train", *tiny(), "--dtype", "bfloat16", "--out", str(tmp_path / "b"))
    line = one_line(refusedrun)
    # the line names what this CPU has: AMX not granted where it has AMX, else avx512_bf16 only, or none
    assert "--dtype bfloat16 needs AMX" in line and detect(cpu_flags(), request=refused).describe() in line
    assert not (tmp_path / "b").exists()
    auto = _refused_process("mxgan", "train", *tiny(), "--dtype", "auto", "--max-steps", "2", "--out",
                            str(tmp_path / "a"))
    assert auto.returncode == 0, auto.stderr
    assert json.loads((tmp_path / "a" / "run.json").read_text())["dtype"] == "float32"
    doctor = _refused_process("mxgan", "doctor")
    assert "bfloat16 units:" in doctor.stdout and "--dtype auto: float32" in doctor.stdout
    if AMX_CPU:
        assert REFUSED in doctor.stdout


CONVOLUTION_IN_BFLOAT16 = """
from mxgan.runtime.env import prepare_mxnet
prepare_mxnet()
import mxnet as mx
from mxgan.model.precision import in_bfloat16
conv = mx.sym.Convolution(mx.sym.Variable("data"), num_filter=32, kernel=(4, 4), stride=(2, 2), pad=(1, 1),
                          no_bias=True, name="c")
executor = in_bfloat16(conv).simple_bind(mx.cpu(), data=(8, 16, 32, 32))
executor.forward(is_train=False)
print(executor.outputs[0].asnumpy().shape)  # waits for the kernel (the engine is asynchronous)
"""


@needs_amx
def test_a_user_s_amx_ceiling_without_the_kernel_s_permission_never_dies_of_sigill():
    env = {ISA_VARIABLE: AMX_ISA}
    without_mxgan = _refused_process("-c", CONVOLUTION_IN_BFLOAT16.replace("prepare_mxnet()\n", "", 1), env=env)
    assert without_mxgan.returncode == -4 or without_mxgan.returncode == 132  # SIGILL: what mxgan guards against
    with_mxgan = _refused_process("-c", CONVOLUTION_IN_BFLOAT16, env=env)
    assert with_mxgan.returncode == 0, with_mxgan.stderr
    assert "(8, 32, 16, 16)" in with_mxgan.stdout
    assert f"using {NO_AMX_ISA} instead" in with_mxgan.stderr


def _d_gradients(symD: mx.sym.Symbol, arg: dict, aux: dict, real: np.ndarray) -> dict:
    module = mx.mod.Module(symD, data_names=("data",), label_names=("label",), context=mx.cpu())
    module.bind(data_shapes=[("data", real.shape)], label_shapes=[("label", (len(real),))], inputs_need_grad=True)
    module.set_params(arg, aux)
    module.forward(mx.io.DataBatch([mx.nd.array(real)], [mx.nd.ones(len(real))]), is_train=True)
    module.backward()
    grads = {name: g[0].asnumpy() for name, g in zip(module._exec_group.param_names, module._exec_group.grad_arrays)}
    return grads | {"data": module.get_input_grads()[0].asnumpy()}


@needs_amx
def test_bfloat16_d_keeps_float32_weights_and_its_gradients_point_where_float32_s_do():
    _, symD = make_dcgan_sym(16, 16, 3, image_size=32)
    gan = build_gan(GanSpec(16, 20, 16, 16, 3, 32, dtype="bfloat16"), [mx.cpu()])
    arg, aux = gan.modD.get_params()
    assert all(v.dtype == np.float32 for v in (*arg.values(), *aux.values()))
    assert "amp_cast" in gan.modD.symbol.tojson(remove_amp_cast=False)
    real = np.random.default_rng(0).uniform(-1, 1, (16, 3, 32, 32)).astype(np.float32)
    exact, bf16 = _d_gradients(symD, arg, aux, real), _d_gradients(in_bfloat16(symD), arg, aux, real)
    for name, g in exact.items():
        if not g.any():  # a fixed gamma (fix_gamma): no gradient in either
            assert not bf16[name].any(), name
            continue
        cosine = float((g * bf16[name]).sum() / (np.linalg.norm(g) * np.linalg.norm(bf16[name])))
        assert cosine > 0.99, (name, cosine)


@needs_amx
def test_a_bfloat16_run_repeats_exactly_and_keeps_its_dtype_on_resume(tmp_path):
    runs = []
    for name in ("a", "b"):
        result = run_cli("run_dcgan.py", *tiny(), "--dtype", "bfloat16", "--max-steps", "3", "--out",
                         str(tmp_path / name))
        assert result.returncode == 0, result.stderr
        assert "dtype bfloat16: D's convolutions in bfloat16 (on AMX)" in result.stdout
        runs.append(final_params(tmp_path / name))
    assert runs[0].keys() == runs[1].keys() == {"G", "D", "G_ema"}
    assert all(np.array_equal(runs[0][role][k], runs[1][role][k]) for role in runs[0] for k in runs[0][role])
    resumed = run_cli("-m", "mxgan", "train", "--resume", str(tmp_path / "a"), "--max-steps", "5")
    assert resumed.returncode == 0, resumed.stderr
    assert "dtype bfloat16" in resumed.stdout
    assert json.loads((tmp_path / "a" / "run.json").read_text())["dtype"] == "bfloat16"


@needs_amx
def test_a_bfloat16_d_sums_its_fake_and_real_batch_gradients_before_the_update():
    """MXNet 1.9.1's amp_cast ignores grad_req='add': the bfloat16 D sums by hand (a D that learned from the real
    batch alone judged every fake real within 20 steps)."""
    gan = build_gan(GanSpec(8, 20, 8, 8, 1, 16, dtype="bfloat16"), [mx.cpu()])
    rng = np.random.default_rng(0)
    batches = [mx.io.DataBatch([mx.nd.array(rng.uniform(-1, 1, (8, 1, 16, 16)))], [mx.nd.full(8, label)])
               for label in (0, 1)]
    alone = []
    for batch in batches:
        accumulate_gradients(gan.modD, [batch])
        alone.append([g[0].asnumpy().copy() for g in gradient_arrays(gan.modD)])
    accumulate_gradients(gan.modD, batches)
    for summed, fake, real in zip(gradient_arrays(gan.modD), *alone):
        np.testing.assert_allclose(summed[0].asnumpy(), fake + real, rtol=1e-5, atol=1e-7)
    assert any(np.abs(fake).sum() > 0 for fake in alone[0])


def _layer_outputs(symbol: mx.sym.Symbol, inputs: np.ndarray, weight: np.ndarray, head: np.ndarray) -> tuple:
    executor = symbol.simple_bind(mx.cpu(), x=inputs.shape, grad_req="write")
    executor.arg_dict["x"][:] = inputs
    executor.arg_dict["g_weight"][:] = weight
    executor.forward(is_train=True)
    executor.backward([mx.nd.array(head)])
    return (executor.outputs[0].asnumpy(), executor.grad_dict["x"].asnumpy(), executor.grad_dict["g_weight"].asnumpy())


def test_g_s_stride_2_layer_as_a_subpixel_convolution_is_the_example_s_in_float32():
    """bench/g_layers.py's re-expressed layer (the one a bfloat16 G would use) computes the Deconvolution: its
    output and every gradient within 1e-5, with the example's weight mapped and the gradient mapped back."""
    rng = np.random.default_rng(0)
    inputs = rng.normal(size=(4, 16, 5, 5)).astype(np.float32)
    weight = rng.normal(0, 0.1, (16, 8, 4, 4)).astype(np.float32)
    head = rng.normal(size=(4, 8, 10, 10)).astype(np.float32)
    out, grad_x, grad_w = _layer_outputs(deconvolution_layer(8), inputs, weight, head)
    sub_out, sub_grad_x, sub_grad_w = _layer_outputs(subpixel_layer(8), inputs, subpixel_weight(weight), head)
    np.testing.assert_allclose(sub_out, out, atol=1e-5)
    np.testing.assert_allclose(sub_grad_x, grad_x, atol=1e-5)
    taps = subpixel_weight(np.ones_like(weight)) != 0  # each Deconvolution tap once; the others stay zero
    assert taps.sum() == weight.size
    np.testing.assert_allclose(sub_grad_w[taps], subpixel_weight(grad_w)[taps], atol=1e-5)


def test_import_mxgan_asks_for_amx_before_mxnet_loads_as_the_cli_does():
    code = ("import os, sys, mxgan; mxgan.make_dcgan_sym; "
            "print(os.environ.get('DNNL_MAX_CPU_ISA'), 'mxnet' in sys.modules)")
    granted = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                             env={k: v for k, v in os.environ.items() if k != ISA_VARIABLE})
    assert granted.stdout.split() == [AMX_ISA if AMX_CPU else "None", "True"], granted.stderr
    refused = _refused_process("-c", code)
    assert refused.stdout.split() == ["None", "True"], refused.stderr
