"""Where a training step's time goes, operator by operator: ``mxgan bench --profile``.

The pip wheel of MXNet 1.9.1 is built without its profiler, but nearly all of the step runs in oneDNN
(MKLDNN), which times every primitive it executes when ``DNNL_VERBOSE=1``. A child process runs the
step that way; this module adds up oneDNN's own times per operator and direction, step by step, and
sets the rest of the step's wall time apart: the work outside oneDNN (Adam, the loss, copies) and the
engine's own. For the (de)convolutions it also gives the speed reached, from each primitive's shape,
against the machine's float32 matrix product.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
from dataclasses import dataclass

BEGIN, END = "mxgan-profile-begin", "mxgan-profile-end"
WARMUP = 3
# oneDNN's primitive kinds and directions, as mxgan's networks use them: D is all Convolution, G all Deconvolution
OPERATORS = {
    ("convolution", "forward_training"): "D Convolution forward",
    ("convolution", "forward_inference"): "D Convolution forward",
    ("convolution", "backward_data"): "D Convolution backward, input gradient",
    ("convolution", "backward_weights"): "D Convolution backward, weight gradient",
    ("deconvolution", "forward_training"): "G Deconvolution forward",
    ("deconvolution", "backward_data"): "G Deconvolution backward, input gradient",
    ("deconvolution", "backward_weights"): "G Deconvolution backward, weight gradient",
    ("batch_normalization", "forward_training"): "BatchNorm forward",
    ("batch_normalization", "backward"): "BatchNorm backward",
    ("eltwise", "forward_training"): "ReLU, LeakyReLU, tanh forward",
    ("eltwise", "backward_data"): "ReLU, LeakyReLU, tanh backward",
    ("reorder", "undef"): "layout conversions (reorder)",
    ("sum", "undef"): "gradient sums (grad_req='add')",
}
OUTSIDE = "outside oneDNN (Adam, loss, copies, engine)"
_SHAPE = re.compile(r"mb(\d+)_ic(\d+)oc(\d+)_ih(\d+)oh(\d+)kh(\d+)\w*?_iw(\d+)ow(\d+)kw(\d+)")


@dataclass
class Primitive:
    """One line of oneDNN's verbose log: what ran, and for how long."""

    operator: str
    milliseconds: float
    macs: int  # multiply-accumulates of a (de)convolution (0 for the others)
    kernel: str = ""  # the kernel family and data type: "AMX bf16", "AVX-512 f32", "GEMM f32", ...


def parse_line(line: str) -> Primitive | None:
    """A ``dnnl_verbose,exec,...`` line as a :class:`Primitive` (None for any other line)."""
    fields = line.strip().split(",")
    if len(fields) < 6 or fields[0] not in ("dnnl_verbose", "mkldnn_verbose") or fields[1] != "exec":
        return None
    kind, direction = fields[3], fields[5]
    operator = OPERATORS.get((kind, direction), f"{kind} {direction}")
    return Primitive(operator, float(fields[-1]), _macs(kind, fields[-2]), kernel_family(fields[4], fields[6]))


# oneDNN's implementation names (``brgconv:avx512_core_amx_bf16``, ``jit:avx512_core``, ``gemm:jit``), by the
# unit they run on: whether the matrix units are used
_FAMILIES = (("amx", "AMX"), ("gemm", "GEMM"), ("avx512", "AVX-512"), ("avx2", "AVX2"), ("ref", "reference"))


def kernel_family(implementation: str, memory: str) -> str:
    """The unit a primitive ran on and its source data type, e.g. "AMX bf16", from its verbose fields."""
    family = next((name for key, name in _FAMILIES if key in implementation), implementation)
    dtype = re.search(r"src_(\w+?)::", memory) or re.search(r"^\w+?_(\w+?)::", memory)
    return f"{family} {dtype.group(1)}" if dtype else family


def _macs(kind: str, shape: str) -> int:
    match = _SHAPE.search(shape)
    if kind not in ("convolution", "deconvolution") or not match:
        return 0
    mb, ic, oc, ih, oh, kh, iw, ow, kw = map(int, match.groups())
    if kind == "convolution":  # every output pixel meets the whole kernel
        return mb * oc * oh * ow * ic * kh * kw
    return mb * ic * ih * iw * oc * kh * kw  # a deconvolution: every input pixel does


def parse_steps(output: str) -> list[tuple[float, list[Primitive]]]:
    """The child's log, cut into steps: each step's wall seconds and the primitives it ran."""
    steps: list[tuple[float, list[Primitive]]] = []
    current: list[Primitive] | None = None
    for line in output.splitlines():
        if line.startswith(BEGIN):
            current = []
        elif line.startswith(END) and current is not None:
            steps.append((float(line.split()[1]), current))
            current = None
        elif current is not None:
            primitive = parse_line(line)
            if primitive:
                current.append(primitive)
    return steps


def summarize(steps: list[tuple[float, list[Primitive]]]) -> dict:
    """Per operator, the median over steps of its milliseconds a step and of its multiply-accumulates; the
    step's median wall time, and what the shares are of (``basis_ms``): the wall time, or the operators' own
    sum where that is more (several devices, or the engine's threads, run operators at once)."""
    operators = sorted({p.operator for _, primitives in steps for p in primitives})
    rows: dict[str, dict] = {}
    for operator in operators:
        ms = [sum(p.milliseconds for p in primitives if p.operator == operator) for _, primitives in steps]
        macs = [sum(p.macs for p in primitives if p.operator == operator) for _, primitives in steps]
        kernels = sorted({p.kernel for _, primitives in steps for p in primitives if p.operator == operator})
        rows[operator] = {"ms": statistics.median(ms), "macs": statistics.median(macs), "kernels": kernels}
    wall = statistics.median(1000 * seconds for seconds, _ in steps)
    busy = sum(r["ms"] for r in rows.values())
    rows[OUTSIDE] = {"ms": max(0.0, wall - busy), "macs": 0, "kernels": []}
    return {"step_ms": wall, "basis_ms": max(wall, busy), "steps": len(steps), "operators": rows}


def profile_step(config: dict, batch: int, steps: int) -> dict:
    """Run ``steps`` training steps of ``config`` (a BenchConfig's fields) in a child process under oneDNN's
    verbose mode, and summarize them (see :func:`summarize`)."""
    env = {**os.environ, "DNNL_VERBOSE": "1", "MKLDNN_VERBOSE": "1"}
    result = subprocess.run([sys.executable, "-m", "mxgan.bench.profile", json.dumps(config), str(batch), str(steps)],
                            env=env, capture_output=True, text=True, check=True)
    return summarize(parse_steps(result.stdout))


def format_profile(summary: dict, gemm_gflops: float, title: str) -> str:
    """The table ``mxgan bench --profile`` prints: operators by time, their share of the step (together at most
    100%), and the (de)convolutions' speed against the machine's float32 matrix product."""
    step = summary["step_ms"]
    basis = summary.get("basis_ms", step) or 1.0  # an older --json result has no basis: the wall time
    lines = [title, f"{'operator':<44} {'ms/step':>8} {'share':>6} {'GFLOP/s':>8} {'x GEMM':>7}  kernels"]
    rows = sorted(summary["operators"].items(), key=lambda item: -item[1]["ms"])
    for name, row in rows:
        speed = _speed(row["macs"], row["ms"], gemm_gflops)
        kernels = ", ".join(row.get("kernels", []))  # an older --json result names none
        lines.append(f"{name:<44} {row['ms']:8.1f} {row['ms'] / basis:6.1%} {speed}  {kernels}".rstrip())
    macs = sum(row["macs"] for row in summary["operators"].values())
    lines.append(f"{'the whole step (wall time)':<44} {step:8.1f} {step / basis:6.1%} "
                 f"{_speed(macs, step, gemm_gflops)}")
    conv = sum(row["ms"] for name, row in summary["operators"].items() if "onvolution" in name)
    if basis > step:
        lines.append(f"the operators ran at once (several devices, or the engine's threads): their times add up to "
                     f"{basis:.1f} ms in a {step:.1f} ms step, and the shares are of that sum")
    lines.append(f"(de)convolutions: {conv / basis:.0%} of the step; float32 GEMM on this machine: "
                 f"{gemm_gflops:.0f} GFLOP/s; median of {summary['steps']} steps, oneDNN's own timings (DNNL_VERBOSE)")
    return "\n".join(lines)


def _speed(macs: float, ms: float, gemm_gflops: float) -> str:
    """GFLOP/s of ``macs`` multiply-accumulates in ``ms``, and that against the GEMM's; blank where not known."""
    if not macs or not ms:
        return f"{'':8} {'':7}"
    speed = 2 * macs / ms / 1e6
    return f"{speed:8.1f} {speed / gemm_gflops:7.2f}" if gemm_gflops > 0 else f"{speed:8.1f} {'':7}"


def child(argv: list[str]) -> None:
    """Run the step: warm up, then each step between markers, waited for, with its wall time."""
    import time

    config, batch, steps = json.loads(argv[0]), int(argv[1]), int(argv[2])
    from mxgan.runtime.env import prepare_mxnet

    prepare_mxnet(config["ctx"])
    import mxnet as mx

    from mxgan.bench.contenders import training_step
    from mxgan.config import BenchConfig

    step, _ = training_step(BenchConfig(**config), batch)
    for _ in range(WARMUP):
        step()
    mx.nd.waitall()
    for _ in range(steps):
        print(BEGIN, flush=True)
        began = time.perf_counter()
        step()
        mx.nd.waitall()
        print(END, time.perf_counter() - began, flush=True)


if __name__ == "__main__":
    child(sys.argv[1:])
