"""The CUDA C kernels: every file builds with nvcc for sm_80 and sm_90 without register
spills or a stack frame, compiles with NVRTC (the compiler ``cupy.RawModule`` uses, which
has no <math.h>) with the loader's options, and is some ``cupy_raw`` port's."""

from __future__ import annotations

import ctypes
import glob
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from perfkit import registry
from perfkit.backends.cupy_raw import NVRTC_OPTIONS, kernel_file, kernels_dir

KERNELS = sorted(kernels_dir().glob("*/*.cu"))
NVCC = shutil.which("nvcc")
ENTRY = re.compile(
    r'extern "C" __global__ void(?: __launch_bounds__\(\w+(?: \* \w+)?\))?\s+(\w+)\('
)


def _ptxas(path: Path, arch: str, tmp_path: Path) -> str:
    done = subprocess.run(
        [
            NVCC or "nvcc",
            f"-arch={arch}",
            "-cubin",
            "-Xptxas",
            "-v",
            "-o",
            str(tmp_path / "k.cubin"),
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def _nvrtc() -> ctypes.CDLL | None:
    """NVRTC from the nvidia-cuda-nvrtc wheel (a test dependency), or None."""
    try:
        import nvidia
    except ImportError:
        return None
    for base in nvidia.__path__:
        for path in sorted(glob.glob(f"{base}/*/lib/libnvrtc.so*")):
            return ctypes.CDLL(path)
    return None


NVRTC = _nvrtc()


def _nvrtc_compile(path: Path, arch: str) -> tuple[int, str]:
    assert NVRTC is not None
    program = ctypes.c_void_p()
    status = NVRTC.nvrtcCreateProgram(
        ctypes.byref(program), path.read_bytes(), path.name.encode(), 0, None, None
    )
    assert status == 0
    options = [*(o.encode() for o in NVRTC_OPTIONS), f"--gpu-architecture={arch}".encode()]
    status = NVRTC.nvrtcCompileProgram(
        program, len(options), (ctypes.c_char_p * len(options))(*options)
    )
    size = ctypes.c_size_t()
    NVRTC.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    NVRTC.nvrtcGetProgramLog(program, log)
    NVRTC.nvrtcDestroyProgram(ctypes.byref(program))
    return status, log.value.decode(errors="replace")


def test_there_are_kernels_for_every_array_workload() -> None:
    assert {p.parent.name for p in KERNELS} == {"vector_add", "reduce_sum", "softmax", "matmul"}
    assert len(KERNELS) >= 15


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("path", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kernel_builds_without_spills(path: Path, arch: str, tmp_path: Path) -> None:
    report = _ptxas(path, arch, tmp_path)
    functions = re.findall(r"Compiling entry function '(\w+)'", report)
    assert sorted(functions) == sorted(ENTRY.findall(path.read_text()))
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
    frames = re.findall(r"(\d+) bytes stack frame", report)
    assert len(spills) == len(frames) == len(functions)
    assert all(stores == loads == "0" for stores, loads in spills), report
    # A register array indexed at run time lands on the stack: as slow as a spill.
    assert all(frame == "0" for frame in frames), report


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize("path", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kernel_compiles_with_nvrtc_as_cupy_loads_it(path: Path, arch: str) -> None:
    status, log = _nvrtc_compile(path, arch)
    assert status == 0, log


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
def test_nvrtc_rejects_what_only_nvcc_accepts(tmp_path: Path) -> None:
    """INFINITY comes from <math.h>, which nvcc includes and NVRTC does not."""
    source = tmp_path / "k.cu"
    source.write_text('extern "C" __global__ void k(float* x) { x[0] = -INFINITY; }\n')
    status, log = _nvrtc_compile(source, "compute_90")
    assert status != 0
    assert "INFINITY" in log


def test_every_kernel_file_belongs_to_a_port_and_says_what_it_changes() -> None:
    registry.load([])
    used = {}
    for workload in registry.workloads().values():
        for implementation in workload.implementations:
            if implementation.backend == "cupy_raw":
                used[kernel_file(workload.name, implementation.variant)] = implementation
    assert sorted(used) == KERNELS
    for path, implementation in used.items():
        number = path.stem.partition("_")[0]
        header = path.read_text().splitlines()[0]
        assert header.startswith(f"// {path.parent.name} {number} "), header
        assert implementation.doc, path
        # Entry points are named after their workload, so one module never shadows another.
        assert all(
            name.startswith(f"{path.parent.name}_") for name in ENTRY.findall(path.read_text())
        )


def test_a_kernel_file_is_found_by_its_variant_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "vector_add").mkdir()
    (tmp_path / "vector_add" / "01_naive.cu").write_text("// vector_add 01 naive: x\n")
    (tmp_path / "vector_add" / "02_naive.cu").write_text("// vector_add 02 naive: y\n")
    monkeypatch.setenv("PERFKIT_KERNELS_DIR", str(tmp_path))
    with pytest.raises(
        FileNotFoundError, match=re.escape("expected one kernels/vector_add/NN_naive.cu, found 2")
    ):
        kernel_file("vector_add", "naive")
    with pytest.raises(FileNotFoundError, match="found 0"):
        kernel_file("vector_add", "tiled")
