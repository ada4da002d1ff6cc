"""``mxgan doctor``: MXNet's build, the GPUs seen, and each CUDA library the GPU build needs."""

from __future__ import annotations

import argparse

SUMMARY = "check the installation: MXNet's build, GPUs, the CUDA libraries of the GPU build"
DESCRIPTION = ("Print MXNet's build features, the GPUs seen, and each CUDA library the GPU build needs: where it was "
               "found, or how to install it. Exit code 1 when something is missing.")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from mxgan.runtime.doctor import diagnose, format_report
    from mxgan.runtime.gpu_arch import UNSUPPORTED_GPU

    lines, problems = diagnose()
    print(format_report(lines, problems))
    if any(UNSUPPORTED_GPU in p for p in problems):
        return 2  # a GPU this build cannot run on: no install fixes that
    return 1 if problems else 0
