"""The quality benchmark (``bench/quality.py``): train MNIST DCGANs as users would, then measure them.

Each run is a real ``mxgan train`` process; its per-epoch quality checks come
from ``metrics.jsonl``, and its final checkpoint is judged on 10000 samples.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from mxgan.checkpoints.formats import load_generator
from mxgan.quality.metrics import evaluate_generator

# name: (what it is, extra training flags)
RUNS = {
    "default": ("64 px, the default recipe (the data's one channel, 2 G updates, G at 4e-4, EMA)", []),
    "example": ("64 px, --recipe example (3 channels, as MXNet's example)", ["--recipe", "example"]),
    "gray": ("64 px, --recipe example --channels 1", ["--recipe", "example", "--channels", "1"]),
    "conditional": ("64 px, the default recipe, --conditional", ["--conditional"]),
}
FINAL_SAMPLES = 10000


# The recipe search (bench/recipe_search.py), name: (what was predicted, training flags). Every run keeps
# a moving average of G (its own eval), which does not change training.
EXAMPLE = ["--recipe", "example", "--channels", "1", "--ema-decay", "0.999"]
CANDIDATES = {
    "example": ("the example's settings, gray: the baseline", EXAMPLE),
    "g2": ("2 G updates per step: better (issue 10: 0.75 -> 0.81)", [*EXAMPLE, "--g-steps", "2"]),
    "batch32": ("batch 32, twice the steps: better", [*EXAMPLE, "--batch-size", "32"]),
    "beta2-0.99": ("Adam beta2 0.99: faster adaptation, a little better", [*EXAMPLE, "--beta2", "0.99"]),
    "lr-g4e-4": ("G learning faster than D (4e-4 / 2e-4): better", [*EXAMPLE, "--lr-g", "4e-4"]),
    "lr4e-4": ("both at 4e-4: faster but less stable", [*EXAMPLE, "--lr", "4e-4"]),
    "lr1e-4": ("both at 1e-4: slower, worse after one epoch", [*EXAMPLE, "--lr", "1e-4"]),
    "beta1-0": ("Adam beta1 0: unstable", [*EXAMPLE, "--beta1", "0"]),
    "label0.9": ("one-sided label smoothing 0.9: no change", [*EXAMPLE, "--real-label", "0.9"]),
    "uniform": ("z ~ U(-1, 1): no change", [*EXAMPLE, "--noise", "uniform"]),
    "g3": ("3 G updates per step: better still than 2", [*EXAMPLE, "--g-steps", "3"]),
    "g2-lr-g4e-4": ("2 G updates and G learning faster: the two gains add", [*EXAMPLE, "--g-steps", "2",
                                                                          "--lr-g", "4e-4"]),
    "g2-batch32": ("2 G updates and batch 32: the two gains add", [*EXAMPLE, "--g-steps", "2", "--batch-size", "32"]),
}


def train_flags(run: Path, data_dir: Path, flags: list[str]) -> Path:
    """Train an MNIST run with ``flags`` in its own process; return its run folder."""
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "mxgan.cli", "train", "--dataset", "mnist", "--out", str(run),
                    "--no-progress", *flags], env=env, check=True)
    return run


def train_run(name: str, epochs: int, out: Path, data_dir: Path, extra: list[str]) -> Path:
    """Train one benchmark run in its own process; return its run folder."""
    return train_flags(out / name, data_dir, ["--epochs", str(epochs), *RUNS[name][1], *extra])


def search_run(name: str, run: Path, data_dir: Path, extra: list[str], epochs: int = 1) -> dict:
    """Train candidate ``name`` (unless its run folder is complete) and return its last raw and EMA checks."""
    if not (run / "state.json").exists():
        train_flags(run, data_dir, ["--epochs", str(epochs), "--eval-samples", str(FINAL_SAMPLES),
                                    *CANDIDATES[name][1], *extra])
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    last = [r for r in records if "eval" in r][-1]
    speed = [r["images_per_sec"] for r in records if "images_per_sec" in r]
    return {"name": name, "run": str(run), "predicted": CANDIDATES[name][0], "raw": last["eval"],
            "ema": last.get("eval_ema"), "images_per_sec": sorted(speed)[len(speed) // 2]}


def _cells(check: dict) -> str:
    return (f"{check['fid']:.2f} | {100 * min(check['histogram']):.1f}% | {check['mean_confidence']:.3f} | "
            f"{check['precision']:.3f} | {check['coverage']:.3f}")


def format_search(results: list[dict], header: bool = True) -> str:
    lines = ["candidate | run | weights | FID-MNIST | rarest digit | mean confidence | precision | coverage | img/s"]
    for r in results:
        for weights in ("raw", "ema"):
            if r[weights]:
                lines.append(f"{r['name']} | {Path(r['run']).name} | {weights} | {_cells(r[weights])} | "
                             f"{r['images_per_sec']:.0f}")
    return "\n".join(lines if header else lines[1:])


def summarize(name: str, run: Path, data_dir: Path) -> dict:
    """Per-epoch checks from the run's log, and the final checkpoint judged on 10000 samples."""
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    per_epoch = [{"epoch": r["epoch"] + 1, **r["eval"]} for r in records if "eval" in r]
    final = evaluate_generator(load_generator(str(run)), data_dir, FINAL_SAMPLES)
    warnings = [r["warning"] for r in records if "warning" in r]
    return {"name": name, "what": RUNS[name][0], "per_epoch": per_epoch, "final": final.to_json(),
            "warnings": warnings}


def format_results(results: list[dict]) -> str:
    lines = ["run | epoch | FID-MNIST | floor | min digit share | mean confidence | agreement"]
    for result in results:
        final = result["final"]
        for check in result["per_epoch"]:
            agreement = "-" if check.get("agreement") is None else f"{100 * check['agreement']:.1f}%"
            lines.append(f"{result['name']} | {check['epoch']} | {check['fid']:.2f} | {check['fid_floor']:.2f} | "
                         f"{100 * min(check['histogram']):.1f}% | {check['mean_confidence']:.3f} | {agreement}")
        agreement = "-" if final.get("agreement") is None else f"{100 * final['agreement']:.1f}%"
        lines.append(f"{result['name']} | final, {final['num']} samples | {final['fid']:.2f} | "
                     f"{final['fid_floor']:.2f} | {100 * min(final['histogram']):.1f}% | "
                     f"{final['mean_confidence']:.3f} | {agreement}")
    return "\n".join(lines)
