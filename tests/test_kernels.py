"""The CUDA C kernels: every file builds with nvcc for sm_80 and sm_90 without register
spills or a stack frame, and every file is some ``cupy_raw`` port's."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from perfkit import registry
from perfkit.backends.cupy_raw import kernel_file, kernels_dir

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
