"""The quality benchmark (``bench/quality.py``): train MNIST DCGANs as users would, then measure them.

Each run is a real ``mxgan train`` process; its per-epoch quality checks come
from ``metrics.jsonl``, and its final checkpoint is evaluated on 10000 samples.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mxgan.checkpoints.formats import load_generator
from mxgan.checkpoints.run_folder import has_state, read_run_state
from mxgan.config import load_run_options
from mxgan.inference.plots import read_metrics
from mxgan.quality.evaluate import evaluate_generator
from mxgan.runtime.humanize import duration

# name: (what it is, extra training flags)
RUNS = {
    "default": ("64 px, the default recipe (the data's one channel, 2 G updates, G at 8e-4, D at 4e-4, EMA)", []),
    "example": ("64 px, --recipe example (3 channels, as MXNet's example)", ["--recipe", "example"]),
    "gray": ("64 px, --recipe example --channels 1", ["--recipe", "example", "--channels", "1"]),
    "conditional": ("64 px, the default recipe, --conditional", ["--conditional"]),
}
FINAL_SAMPLES = 10000
MNIST_TRAIN = 60000  # images in an MNIST epoch


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
    subprocess.run(_train_command(run, flags), env=_environment(data_dir), check=True)
    return run


def dry_run(run: Path, data_dir: Path, flags: list[str]) -> list[str]:
    """What ``--dry-run`` says, in its own process, of the MNIST run :func:`train_flags` would train: its last
    three lines (the run counted, then timed on this machine)."""
    result = subprocess.run([*_train_command(run, flags), "--dry-run"], env=_environment(data_dir), check=True,
                            capture_output=True, text=True)
    return result.stdout.strip().splitlines()[-3:]


def _train_command(run: Path, flags: list[str]) -> list[str]:
    return [sys.executable, "-m", "mxgan", "train", "--dataset", "mnist", "--out", str(run), "--no-progress", *flags]


def _environment(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "MXGAN_DATA_DIR": str(data_dir)}


def train_run(name: str, epochs: int, out: Path, data_dir: Path, extra: list[str]) -> Path:
    """Train one benchmark run in its own process; return its run folder."""
    return train_flags(out / name, data_dir, ["--epochs", str(epochs), *RUNS[name][1], *extra])


def search_run(name: str, run: Path, data_dir: Path, extra: list[str], epochs: int = 1) -> dict:
    """Train candidate ``name`` (unless its run folder is complete) and return its last raw and EMA checks."""
    if not has_state(run):
        train_flags(run, data_dir, ["--epochs", str(epochs), "--eval-samples", str(FINAL_SAMPLES),
                                    *CANDIDATES[name][1], *extra])
    records = read_metrics(run)
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
    """Per-epoch checks from the run's log, and the final checkpoint evaluated on 10000 samples."""
    records = read_metrics(run)
    per_epoch = [{"epoch": r["epoch"] + 1, **r["eval"]} for r in records if "eval" in r]
    final = evaluate_generator(load_generator(str(run)), data_dir, FINAL_SAMPLES)
    warnings = [r["warning"] for r in records if "warning" in r]
    return {"name": name, "what": RUNS[name][0], "per_epoch": per_epoch, "final": final.to_json(),
            "warnings": warnings}


def format_results(results: list[dict]) -> str:
    lines = ["run | epoch | FID-MNIST | floor | min digit share | mean confidence | agreement | weakest digit's"]
    for result in results:
        for check in [*result["per_epoch"], {**result["final"], "epoch": f"final, {result['final']['num']} samples"}]:
            lines.append(f"{result['name']} | {check['epoch']} | {check['fid']:.2f} | {check['fid_floor']:.2f} | "
                         f"{100 * min(check['histogram']):.1f}% | {check['mean_confidence']:.3f} | "
                         f"{_share(check.get('agreement'))} | {_share(min(check.get('digit_agreement') or [None]))}")
    return "\n".join(lines)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


# The search for time to a good model (bench/recipe_search.py --time), name: (what was predicted, flags on top of
# the default recipe). The search began from the recipe before it (G at 4e-4, D at 2e-4); each candidate names its
# rates, so it means the same run whatever the default recipe is now.
BEFORE = ["--lr-g", "4e-4", "--lr-d", "2e-4"]
DOUBLED = ["--lr-g", "8e-4", "--lr-d", "4e-4"]
TIME_CANDIDATES = {
    "default": ("the recipe before (2 G updates, G at 4e-4, D at 2e-4, batch 64, EMA 0.999): the baseline", BEFORE),
    "g1": ("1 G update a step: steps 1.3x cheaper but each does less; about even in time", [*BEFORE, "--g-steps", "1"]),
    "g3": ("3 G updates a step: best per step (issue 10) but 1.3x the cost; slower in time",
           [*BEFORE, "--g-steps", "3"]),
    "batch32": ("batch 32: twice the updates for the same images; faster in time", [*BEFORE, "--batch-size", "32"]),
    "lr2x": ("both rates doubled (G 8e-4, D 4e-4): faster early, less stable later; the default now", DOUBLED),
    "lr-d1e-4": ("D at 1e-4: G keeps up with less help; about even", ["--lr-g", "4e-4", "--lr-d", "1e-4"]),
    "ema0.99": ("a shorter moving average (0.99): follows G's fast early gains; reaches FID 10 sooner",
                [*BEFORE, "--ema-decay", "0.99"]),
    "beta2-0.99": ("Adam beta2 0.99: a little faster adaptation; about even", [*BEFORE, "--beta2", "0.99"]),
    # the second round, on top of the first round's winner (both rates doubled)
    "lr3x": ("both rates tripled (G 1.2e-3, D 6e-4): faster still, or unstable", ["--lr-g", "1.2e-3", "--lr-d",
                                                                                 "6e-4"]),
    "lr2x-g1": ("rates doubled, 1 G update: the cheaper step now gains more than it loses",
                [*DOUBLED, "--g-steps", "1"]),
    "lr2x-ema0.99": ("rates doubled, a shorter average: reaches FID 10 sooner", [*DOUBLED, "--ema-decay", "0.99"]),
    "lr4x": ("both rates four times (G 1.6e-3, D 8e-4): past the best, unstable", ["--lr-g", "1.6e-3", "--lr-d",
                                                                                   "8e-4"]),
}

# Time to a good model (bench/quality.py --time-to-fid, bench/recipe_search.py --time): every run checks its
# quality a few times an epoch and stops at the last goal; state.json keeps each check with the run's time.
GOALS = (10.0, 5.0)


def until_flags(flags: list[str], every: float, goal: float, epochs: int) -> list[str]:
    """``flags`` for a run that checks every ``every`` epochs and stops at FID-MNIST ``goal`` or ``epochs``."""
    return ["--eval-every", str(every), "--until-fid", str(goal), "--epochs", str(epochs), *flags]


def train_until(run: Path, data_dir: Path, flags: list[str], every: float, goal: float, epochs: int) -> Path:
    """Train (unless ``run`` already finished) until FID-MNIST ``goal`` or ``epochs``, checking every ``every``
    epochs; return the run folder. A folder left by an interrupted run continues with --resume."""
    if has_state(run):
        state = read_run_state(run)
        if state.evaluations and (state.evaluations[-1]["fid"] <= goal or state.progress.epoch >= epochs):
            return run
        subprocess.run([sys.executable, "-m", "mxgan", "train", "--resume", str(run), "--no-progress"],
                       env=_environment(data_dir), check=True)
        return run
    return train_flags(run, data_dir, until_flags(flags, every, goal, epochs))


def time_to_fid(run: Path, goals: tuple[float, ...] = GOALS) -> dict:
    """When a run's checks first reached each goal, for the sampled (EMA) and the raw weights: the check's
    iteration, epochs and training time (None: not reached); and every check."""
    options = load_run_options(run, flag="the run")
    assert options is not None, f"{run} has no run.json"
    steps_per_epoch = MNIST_TRAIN // options.batch_size
    state = read_run_state(run)
    checks, spent = [], 0.0  # spent: on the checks before this one
    for e in state.evaluations:
        checks.append({"iteration": e["iteration"], "epochs": e["iteration"] / steps_per_epoch,
                       "seconds": e["seconds"], "training_seconds": e["seconds"] - spent, "fid": e["fid"],
                       "fid_raw": e["fid_raw"], "check_seconds": e["check_seconds"]})
        spent += e["check_seconds"]
    reached = {}
    for goal in goals:
        for weights, key in (("sampled", "fid"), ("raw", "fid_raw")):
            first = next((c for c in checks if c[key] <= goal), None)
            reached[f"{goal:g} {weights}"] = first
    seconds = [r["images_per_sec"] for r in read_metrics(run) if "images_per_sec" in r]
    total = max([state.seconds] + [c["seconds"] + c["check_seconds"] for c in checks])
    return {"run": str(run), "checks": checks, "reached": reached, "images_per_sec": sorted(seconds)[len(seconds) // 2],
            "check_share": sum(c["check_seconds"] for c in checks) / total if total else 0.0}


def _when(check: dict | None) -> str:
    if check is None:
        return "not reached"
    return (f"{check['seconds'] / 60:.1f} min ({check['training_seconds'] / 60:.1f} min without the checks), "
            f"{check['epochs']:.2f} epochs (FID {check['fid']:.2f} EMA / {check['fid_raw']:.2f} raw)")


def format_time_to_fid(name: str, result: dict, checks: bool = True) -> str:
    """The goals a run reached and when (the EMA's and the raw weights' FID side by side), then every check."""
    lines = [f"{name} ({Path(result['run']).name}): {result['images_per_sec']:.1f} images/s; the checks took "
             f"{result['check_share']:.1%} of the run"]
    lines += [f"  FID-MNIST <= {goal} ({weights} weights): {_when(check)}"
              for key, check in result["reached"].items() for goal, weights in [key.split()]]
    lines += [f"  --dry-run before it: {line}" for line in result.get("dry_run", [])]
    if checks:
        lines.append("  iteration | epochs | training time | FID-MNIST EMA | raw | the check took")
        lines += [f"  {c['iteration']} | {c['epochs']:.2f} | {duration(c['seconds'])} | {c['fid']:.2f} | "
                  f"{c['fid_raw']:.2f} | {c['check_seconds']:.1f} s" for c in result["checks"]]
    return "\n".join(lines)


def format_time_search(results: list[dict]) -> str:
    """One row per run of the search for time: what was predicted, then the epochs (and training minutes,
    checks left out) until each goal with the sampled (EMA) weights, and the best FID-MNIST its checks saw."""
    goals = [key.split()[0] for key in results[0]["reached"] if key.endswith("sampled")] if results else []
    lines = ["candidate | seed | predicted | " + " | ".join(f"FID <= {g}: epochs (min)" for g in goals)
             + " | best FID EMA / raw | images/s"]
    for r in results:
        cells = []
        for goal in goals:
            check = r["reached"][f"{goal} sampled"]
            cells.append("-" if check is None else f"{check['epochs']:.2f} ({check['training_seconds'] / 60:.1f})")
        best = min(r["checks"], key=lambda c: c["fid"])
        lines.append(f"{r['name']} | {r['seed']} | {r['predicted']} | {' | '.join(cells)} | "
                     f"{best['fid']:.2f} / {min(c['fid_raw'] for c in r['checks']):.2f} | {r['images_per_sec']:.0f}")
    return "\n".join(lines)
