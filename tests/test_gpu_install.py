"""The GPU build's CUDA libraries: found in pip's nvidia wheel layout, loaded in order, reported by doctor."""

import json
import shutil
import subprocess
import sys
import zlib  # noqa: F401  (loads libz, a real shared library to stand in for the CUDA ones)
from pathlib import Path

import pytest
from helpers import REPO, run_cli

from mxgan.errors import MxganError
from mxgan.runtime.cuda import CUDA_LIBRARIES, find_all, preload
from mxgan.runtime.doctor import diagnose, format_report


def _real_shared_library() -> Path:
    for line in Path("/proc/self/maps").read_text().splitlines():
        if "/libz.so" in line:
            return Path(line.split()[-1])
    pytest.skip("no libz.so mapped in this process")


def _site(tmp_path: Path, skip: tuple[str, ...] = ()) -> Path:
    """site-packages/nvidia/<name>/lib/<soname> as NVIDIA's wheels lay them out, real ELF files inside."""
    site = tmp_path / "site-packages"
    library_file = _real_shared_library()
    for library in CUDA_LIBRARIES:
        if library.soname in skip:
            continue
        lib = site / "nvidia" / library.folder / "lib"
        lib.mkdir(parents=True)
        companions = {"cublas": ["libcublasLt.so.11"], "cuda_nvrtc": ["libnvrtc-builtins.so.11.8"],
                      "cudnn": ["libcudnn_ops_infer.so.8", "libcudnn_cnn_infer.so.8"]}.get(library.folder, [])
        for name in [library.soname, *companions]:
            shutil.copy(library_file, lib / name)
    (site / "nvidia" / "__init__.py").touch()
    return site


def test_every_library_is_found_where_its_wheel_puts_it(tmp_path):
    site = _site(tmp_path, skip=("libcudnn.so.8",))
    found = {library.soname: path for library, path in find_all([tmp_path / "elsewhere", site]).items()}
    assert found["libcudnn.so.8"] is None
    assert found["libcudart.so.11.0"] == site / "nvidia" / "cuda_runtime" / "lib" / "libcudart.so.11.0"
    assert sum(path is not None for path in found.values()) == len(CUDA_LIBRARIES) - 1


def test_preload_loads_them_in_dependency_order_in_a_fresh_process(tmp_path):
    site = _site(tmp_path)
    script = (f"import json, sys; from pathlib import Path; from mxgan.runtime.cuda import preload; "
              f"loaded = preload([Path({str(site)!r})], only_for_gpu_build=False); "
              "maps = Path('/proc/self/maps').read_text(); "
              "print(json.dumps([[p.name, str(p) in maps] for p in loaded]))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, check=True)
    loaded = json.loads(result.stdout)
    names = [name for name, _ in loaded]
    assert all(mapped for _, mapped in loaded)  # each file is mapped into the process
    assert names[0] == "libcudart.so.11.0"
    assert names.index("libcublasLt.so.11") < names.index("libcublas.so.11") < names.index("libcusolver.so.11")
    assert names.index("libcudnn_ops_infer.so.8") < names.index("libcudnn.so.8")
    assert len(names) == len(CUDA_LIBRARIES) + 4


def test_preload_does_nothing_for_the_cpu_build(tmp_path):
    assert preload([_site(tmp_path)]) == []  # this machine has mxnet, not mxnet-cu112


def test_a_damaged_library_is_one_clear_error(tmp_path):
    site = _site(tmp_path)
    (site / "nvidia" / "nccl" / "lib" / "libnccl.so.2").write_bytes(b"\x7fELF truncated")
    with pytest.raises(MxganError, match=r"libnccl.so.2 is there but does not load .*--force-reinstall "
                                         r"'nvidia-nccl-cu11'"):
        preload([site], only_for_gpu_build=False)


def test_doctor_names_each_missing_library_and_its_package(tmp_path):
    site = _site(tmp_path, skip=("libcudnn.so.8", "libnccl.so.2"))
    lines, problems = diagnose([site], gpu_build=True)
    report = format_report(lines, problems)
    assert f"libcublas.so.11      {site}/nvidia/cublas/lib/libcublas.so.11" in report
    assert "libcudnn.so.8 is missing: pip install 'nvidia-cudnn-cu11==8.9.*'" in problems
    assert "libnccl.so.2 is missing: pip install 'nvidia-nccl-cu11'" in problems
    assert "libcuda.so.1 is missing: install the NVIDIA driver (nvidia-smi should work)" in problems
    assert report.count("problem(s):") == 1


def test_doctor_on_this_cpu_machine():
    result = run_cli("-m", "mxgan", "doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "DIST_KVSTORE+" in result.stdout and "a CPU build" in result.stdout
    assert "only needed by the GPU build" in result.stdout and result.stdout.rstrip().endswith("nothing missing")
