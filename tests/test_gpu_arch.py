"""Which GPUs mxnet-cu112 can run on, decided on CPU from given compute capabilities."""

import pytest

from mxgan.runtime.doctor import gpu_lines
from mxgan.runtime.gpu_arch import Gpu, problem, runs_on


@pytest.mark.parametrize("capability, served", [
    ((5, 2), True), ((6, 1), True), ((7, 0), True), ((7, 5), True),  # Maxwell, Pascal, V100, T4
    ((8, 0), True), ((8, 6), True), ((8, 9), True),                   # A100, RTX 30, L4 (sm_86 code)
    ((3, 7), False), ((9, 0), False), ((10, 0), False), ((12, 0), False),  # K80, H100/H200, Blackwell
])
def test_machine_code_runs_on_its_major_version_and_newer_minors(capability, served):
    assert runs_on(capability) is served


def test_hopper_gets_one_line_with_the_way_forward():
    line = problem(Gpu(0, "NVIDIA H100 80GB HBM3", (9, 0)))
    assert line is not None and "\n" not in line
    assert "gpu0 (NVIDIA H100 80GB HBM3) has compute capability 9.0" in line
    assert "sm_50, sm_60, sm_70, sm_80, sm_86 only and no PTX" in line
    assert "NGC MXNet container" in line and "CUDA >= 11.8 and MXNET_CUDA_ARCH including 9.0" in line
    assert problem(Gpu(1, "Tesla T4", (7, 5))) is None


def test_doctor_lists_each_gpu_and_flags_the_unsupported_one():
    lines, problems = gpu_lines([Gpu(0, "Tesla T4", (7, 5)), Gpu(1, "NVIDIA H200", (9, 0))])
    assert lines == ["  gpu0: Tesla T4, compute capability 7.5: ok",
                     "  gpu1: NVIDIA H200, compute capability 9.0: NOT supported"]
    assert len(problems) == 1 and problems[0].startswith("gpu1 (NVIDIA H200)")
