"""A folder of your own pictures, measured as it trains: ``python bench/own_images.py``.

Writes Fashion-MNIST's training images (Debian's ``dataset-fashion-mnist``) as a folder of PNG files, trains
the default command on it (``--dataset folder``, 64 px, one channel) with an Inception FID check every
``--eval-every`` epochs, then prints the FID of G's moving average and of its raw weights at each check, with
what each check cost as a share of the run, and writes ``bench/results/own_images.json`` (``own_images-N.json``
for ``--images N`` other than all 60000). About half an hour on 2 CPU cores for the default epoch; ``--images``
makes it shorter. The machine is named in the output.
"""

import argparse
import gzip
import json
import platform
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
FASHION = Path("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz")
FASHION_IMAGES = 60000  # all of Fashion-MNIST's training images


def cpu() -> str:
    """The CPU model, its cores and whether it has AMX (for every figure)."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")),
                 platform.processor())
    flags = next((line for line in info.splitlines() if line.startswith("flags")), "")
    isa = "AMX" if "amx_bf16" in flags else "AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "?"
    return f"{model}, {info.count('processor')} cores, {isa}"


def write_folder(folder: Path, images: int) -> Path:
    """The first ``images`` Fashion-MNIST training images as PNG files (kept: a second call reuses them)."""
    if folder.is_dir() and len(list(folder.glob("*.png"))) == images:
        return folder
    raw = gzip.decompress(FASHION.read_bytes())
    pixels = np.frombuffer(raw, np.uint8, offset=16).reshape(-1, 28, 28)[:images]
    folder.mkdir(parents=True, exist_ok=True)
    for i, picture in enumerate(pixels):
        cv2.imwrite(str(folder / f"{i:05d}.png"), picture)
    return folder


def checks(run: Path) -> list[dict]:
    """The in-training quality checks of a run, from its metrics.jsonl."""
    lines = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    return [line for line in lines if "eval" in line]


def table(rows: list[dict], steps_per_epoch: int) -> str:
    lines = ["epochs | iteration | training time | FID EMA | FID raw | KID EMA (x 1e-3) | precision | recall | "
             "the check took"]
    for row in rows:
        ema, raw = row.get("eval_ema", row["eval"]), row["eval"]
        lines.append(f"{row['iteration'] / steps_per_epoch:.2f} | {row['iteration']} | {row['seconds'] / 60:.1f} min | "
                     f"{ema['fid']:.2f} | "
                     f"{raw['fid']:.2f} | {1000 * ema['kid']:.2f} | {ema['precision']:.3f} | {ema['recall']:.3f} | "
                     f"{row['check_seconds']:.0f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=FASHION_IMAGES, help="Fashion-MNIST images in the folder")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--eval-samples", type=int, default=1000)
    parser.add_argument("--eval-every", type=float, default=1.0, help="epochs between checks (0.25: four an epoch)")
    parser.add_argument("--work", default="runs/own-images", help="where the folder and the run go")
    args = parser.parse_args()
    work = Path(args.work)
    folder = write_folder(work / f"fashion-{args.images}", args.images)
    run = work / f"run-{args.images}-{args.epochs}-{args.eval_every:g}"
    flags = ["--dataset", "folder", "--data-dir", str(folder), "--channels", "1", "--epochs", str(args.epochs),
             "--eval-every", str(args.eval_every), "--eval-samples", str(args.eval_samples), "--no-progress",
             "--out", str(run)]
    began = time.monotonic()
    subprocess.run([sys.executable, str(REPO / "run_dcgan.py"), *flags], check=True)
    seconds = time.monotonic() - began
    rows = checks(run)
    state = json.loads((run / "state.json").read_text())
    for row, evaluation in zip(rows, state["evaluations"]):
        row["check_seconds"] = evaluation["check_seconds"]
    spent = sum(row["check_seconds"] for row in rows)
    output = [f"{cpu()}; {args.images} Fashion-MNIST pictures as a folder, 64 px, 1 channel, the default recipe",
              f"the run took {seconds / 60:.1f} min; its {len(rows)} Inception checks ({args.eval_samples} samples, "
              f"EMA and raw) {spent / 60:.1f} min, {100 * spent / seconds:.1f}% of it",
              *table(rows, args.images // json.loads((run / "run.json").read_text())["batch_size"]).splitlines()]
    print("\n".join(output))
    command = " ".join(["python", "bench/own_images.py", *sys.argv[1:]])
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    name = "own_images.json" if args.images == FASHION_IMAGES else f"own_images-{args.images}.json"
    (results / name).write_text(json.dumps({
        "question": "What FID does the default command reach on a folder of pictures, and what do its checks cost?",
        "machine": cpu(), "date": time.strftime("%Y-%m-%d"), "source": "bench/own_images.py", "commands": [command],
        "train_command": ["mxgan", "train", *flags], "images": args.images, "run_seconds": round(seconds, 1),
        "check_seconds": round(spent, 1), "checks": rows, "printed": [{"command": command, "output": output}]},
        indent=1) + "\n")


if __name__ == "__main__":
    main()
