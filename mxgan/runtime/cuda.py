"""The CUDA 11 libraries ``mxnet-cu112`` links but does not bundle, found in and loaded from pip's wheels.

``pip install '.[gpu]'`` installs them as NVIDIA's ``nvidia-*-cu11`` wheels,
each under ``site-packages/nvidia/<name>/lib/``, where the dynamic loader
does not look. :func:`preload` opens each (dependencies first) with
``RTLD_GLOBAL`` before MXNet is imported; ``libmxnet.so`` then finds them by
their sonames, with no ``LD_LIBRARY_PATH`` and no CUDA toolkit. The NVIDIA
driver's ``libcuda.so.1`` is not a pip package and must come with the driver.
Nothing here imports MXNet.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import site
import sys
from dataclasses import dataclass
from pathlib import Path

from mxgan.errors import MxganError

GPU_PACKAGE = "mxnet-cu112"
DRIVER_LIBRARY = "libcuda.so.1"


@dataclass(frozen=True)
class CudaLibrary:
    """One library ``libmxnet.so`` needs: its soname, the wheel that has it, and that wheel's folder."""

    soname: str
    package: str  # pip requirement
    folder: str  # site-packages/nvidia/<folder>/lib/
    companions: tuple[str, ...] = ()  # file-name patterns in the same folder, loaded first

    def install_hint(self) -> str:
        return f"pip install '{self.package}'"


# In load order: each library after those it needs.
CUDA_LIBRARIES = (
    CudaLibrary("libcudart.so.11.0", "nvidia-cuda-runtime-cu11", "cuda_runtime"),
    CudaLibrary("libcublas.so.11", "nvidia-cublas-cu11", "cublas", ("libcublasLt.so.11",)),
    CudaLibrary("libcufft.so.10", "nvidia-cufft-cu11", "cufft"),
    CudaLibrary("libcurand.so.10", "nvidia-curand-cu11", "curand"),
    CudaLibrary("libcusolver.so.11", "nvidia-cusolver-cu11", "cusolver"),
    CudaLibrary("libnvrtc.so.11.2", "nvidia-cuda-nvrtc-cu11", "cuda_nvrtc", ("libnvrtc-builtins.so.*",)),
    CudaLibrary("libnccl.so.2", "nvidia-nccl-cu11", "nccl"),
    CudaLibrary("libnvToolsExt.so.1", "nvidia-nvtx-cu11", "nvtx"),
    # cuDNN 8 opens its sub-libraries (ops, cnn, adv) by name at run time: load them first
    CudaLibrary("libcudnn.so.8", "nvidia-cudnn-cu11==8.9.*", "cudnn", ("libcudnn_*.so.8",)),
)


def search_roots() -> list[Path]:
    """Folders that may hold ``nvidia/``: this interpreter's site-packages and the rest of ``sys.path``."""
    roots = [*site.getsitepackages(), site.getusersitepackages(), *sys.path]
    seen: list[Path] = []
    for root in map(Path, filter(None, roots)):
        if root.is_dir() and root not in seen:
            seen.append(root)
    return seen


def find(library: CudaLibrary, roots: list[Path]) -> Path | None:
    """Where ``library`` is under ``roots`` (the first hit), or None."""
    for root in roots:
        path = root / "nvidia" / library.folder / "lib" / library.soname
        if path.is_file():
            return path
    return None


def find_all(roots: list[Path] | None = None) -> dict[CudaLibrary, Path | None]:
    """Every library of :data:`CUDA_LIBRARIES`, found (a path) or missing (None)."""
    roots = search_roots() if roots is None else roots
    return {library: find(library, roots) for library in CUDA_LIBRARIES}


def gpu_build_installed() -> bool:
    """Whether the installed MXNet is the CUDA 11.2 build (read from pip's metadata, without importing it)."""
    try:
        importlib.metadata.version(GPU_PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


def preload(roots: list[Path] | None = None, only_for_gpu_build: bool = True) -> list[Path]:
    """Load every CUDA library found, in dependency order, globally; return the files loaded.

    Does nothing for the CPU build (unless ``only_for_gpu_build`` is False).
    Missing libraries are left to MXNet's import error and to ``mxgan doctor``;
    a library that is there but does not load raises :class:`MxganError`.
    """
    if only_for_gpu_build and not gpu_build_installed():
        return []
    loaded = []
    for library, path in find_all(roots).items():
        if path is None:
            continue
        companions = sorted({p for pattern in library.companions for p in path.parent.glob(pattern)})
        for file in [*companions, path]:
            try:
                ctypes.CDLL(str(file), mode=ctypes.RTLD_GLOBAL)
            except OSError as exc:
                raise MxganError(f"{file} is there but does not load ({exc}); reinstall it: pip install "
                                 f"--force-reinstall '{library.package}'") from exc
            loaded.append(file)
    return loaded


def driver_found() -> bool:
    """Whether the NVIDIA driver's ``libcuda.so.1`` can be loaded."""
    try:
        ctypes.CDLL(DRIVER_LIBRARY)
    except OSError:
        return False
    return True
