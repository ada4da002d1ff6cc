"""What several processes on one machine cost: ``mxgan launch`` (2 workers, 1 parameter server) next to one
process, the same steps, wall time including start-up, each command in processes of its own."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mxgan.runtime.env import available_cores

STEPS = 20
TRAIN = ["--dataset", "mnist", "--channels", "1", "--max-steps", str(STEPS), "--no-progress"]
DISTRIBUTED = ["launch", "--workers", "2", "--servers", "1", "--", "--kvstore", "dist_sync", *TRAIN]
DIGEST = re.compile(r"worker rank (\d+): \d+ steps; weights sha256 (\w+)")


def runs() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Each run: its ``mxgan`` arguments and the environment it adds."""
    cores = str(available_cores())
    return {
        "1 process": (["train", *TRAIN], {}),
        f"2 workers + 1 server, each worker with all cores (`OMP_NUM_THREADS={cores}`)":
            (DISTRIBUTED, {"OMP_NUM_THREADS": cores}),
        "2 workers + 1 server, cores shared (`mxgan launch`'s default: 1 thread each)": (DISTRIBUTED, {}),
    }


def time_runs(data_dir: Path) -> list[dict]:
    """Each run of :func:`runs`: its wall time and, for the workers, whether their weights are identical."""
    rows = []
    for name, (args, env) in runs().items():
        with tempfile.TemporaryDirectory() as tmp:
            command = [sys.executable, "-m", "mxgan", *args, "--out", str(Path(tmp) / "run")]
            environment = {k: v for k, v in os.environ.items() if k != "OMP_NUM_THREADS"}
            environment |= {"MXGAN_DATA_DIR": str(data_dir), **env}
            began = time.perf_counter()
            result = subprocess.run(command, env=environment, capture_output=True, text=True, check=True)
            wall = time.perf_counter() - began
        digests = dict(DIGEST.findall(result.stdout + result.stderr))
        workers = len(digests) or 1
        rows.append({"run": name, "images": f"{STEPS} x {workers} x 64" if digests else f"{STEPS} x 64",
                     "seconds": wall, "weights": ("identical on both workers" if len(set(digests.values())) == 1
                                                  else "DIFFERENT") if digests else ""})
    return rows


def format_rows(rows: list[dict]) -> str:
    lines = ["run | images | wall | weights"]
    lines += [f"{r['run']} | {r['images']} | {r['seconds']:.1f} s | {r['weights']}" for r in rows]
    return "\n".join(lines)
