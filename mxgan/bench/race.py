"""Contenders in processes of their own, timed in alternating blocks: the fair race of ``bench/throughput.py``.

In one process, MXNet and PyTorch bring two OpenMP runtimes onto the same cores, and whichever runs
second pays for the other's idle threads. Here each contender (mxgan's step, PyTorch's example as
written, with ``channels_last``, compiled) is a child process started with the same environment; the
parent asks each in turn for one timed block, so the machine's noise falls on all of them alike. A child
answers only after its warm-up (``torch.compile`` compiles then), and the median of the blocks is kept.

This module imports neither framework: a child imports only its own.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from mxgan.bench.timing import WARMUP, timed
from mxgan.bench.torch_twin import VARIANTS

MXGAN = "mxgan"  # mxgan's step, unwaited and with the EMA too, and its generator
MXGAN_STEP = "mxgan step"  # mxgan's step alone, as the trainer runs it
TORCH = ("torch eager", "torch channels_last", "torch.compile")  # PyTorch's example as a user would run it
_VARIANTS = dict(zip(TORCH, VARIANTS, strict=True))  # each one's torch_twin variant


class Contender:
    """A child process holding one framework's contenders (``kind``), warmed up; :meth:`time` runs one block.
    ``env``: settings added to its environment (read when MXNet or OpenMP start)."""

    def __init__(self, name: str, kind: str, config: dict, batch: int, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.process = subprocess.Popen([sys.executable, "-m", "mxgan.bench.race", kind, json.dumps(config),
                                         str(batch)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                        env={**os.environ, **(env or {})})
        self.measures: list[str] = []

    def ready(self) -> list[str]:
        """Wait for the warm-up; the measures the child offers (``train``, ``infer``, ...)."""
        self.measures = json.loads(self._answer())
        return self.measures

    def time(self, measure: str) -> float:
        assert self.process.stdin is not None
        self.process.stdin.write(measure + "\n")
        self.process.stdin.flush()
        return float(self._answer())

    def _answer(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the {self.name} contender of the race stopped (exit code {self.process.wait()})")
        return line

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        self.process.wait(timeout=60)


def race(names: list[str] | dict[str, tuple[str, dict[str, str]]], config: dict, batch: int, repeats: int,
         ) -> dict[str, dict[str, float]]:
    """Median seconds per block of each contender's each measure, ``repeats`` rounds of alternating blocks.
    ``names``: kinds of contender, or ``{name: (kind, environment added)}``."""
    chosen = names if isinstance(names, dict) else {name: (name, {}) for name in names}
    contenders = [Contender(name, kind, config, batch, env) for name, (kind, env) in chosen.items()]
    try:
        for contender in contenders:
            contender.ready()
        times: dict[str, dict[str, list[float]]] = {c.name: {m: [] for m in c.measures} for c in contenders}
        for _ in range(repeats):
            for contender in contenders:
                for measure in contender.measures:
                    times[contender.name][measure].append(contender.time(measure))
    finally:
        for contender in contenders:
            contender.close()
    return {name: {m: statistics.median(t) for m, t in measures.items()} for name, measures in times.items()}


def _child_contenders(name: str, config: dict, batch: int) -> tuple[dict, dict]:
    """The child's blocks and how to wait for each."""
    if name in (MXGAN, MXGAN_STEP):
        from mxgan.runtime.env import prepare_mxnet

        prepare_mxnet(config["ctx"])
        from mxgan.bench.contenders import mxgan_contenders
        from mxgan.config import BenchConfig

        blocks, syncs = mxgan_contenders(BenchConfig(**config), batch)
        return (blocks, syncs) if name == MXGAN else ({"train": blocks["train"]}, {"train": syncs["train"]})
    from mxgan.bench import torch_twin

    blocks = torch_twin.contenders(config["nz"], config["ngf"], config["ndf"], config["channels"],
                                   config["image_size"], batch, config["steps"], _VARIANTS[name],
                                   bfloat16=config.get("dtype") == "bfloat16")
    return blocks, dict.fromkeys(blocks, lambda: None)  # PyTorch on the CPU returns when the work is done


def child(argv: list[str]) -> None:
    """A contender: warm up, say which measures it offers, then time one block per line read."""
    name, config, batch = argv[0], json.loads(argv[1]), int(argv[2])
    blocks, syncs = _child_contenders(name, config, batch)
    for measure in blocks:
        for _ in range(WARMUP):
            timed(blocks[measure], syncs[measure])
    print(json.dumps(list(blocks)), flush=True)
    for line in sys.stdin:
        measure = line.strip()
        print(timed(blocks[measure], syncs[measure]), flush=True)


if __name__ == "__main__":
    child(sys.argv[1:])
