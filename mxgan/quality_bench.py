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

from mxgan.formats import load_generator
from mxgan.quality import evaluate_generator

# name: (what it is, extra training flags)
RUNS = {
    "default": ("64 px, default settings (3 channels, as the example)", []),
    "gray": ("64 px, --channels 1", ["--channels", "1"]),
    "conditional": ("64 px, --channels 1 --conditional", ["--channels", "1", "--conditional"]),
}
FINAL_SAMPLES = 10000


def train_run(name: str, epochs: int, out: Path, data_dir: Path, extra: list[str]) -> Path:
    """Train one benchmark run in its own process; return its run folder."""
    run = out / name
    env = {**os.environ, "MXGAN_DATA_DIR": str(data_dir)}
    subprocess.run([sys.executable, "-m", "mxgan.cli", "train", "--dataset", "mnist", "--epochs", str(epochs),
                    "--out", str(run), "--no-progress", *RUNS[name][1], *extra], env=env, check=True)
    return run


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
