"""The CUDA C kernels: every file builds with nvcc for sm_80 and sm_90 without register
spills or a stack frame, compiles with NVRTC (the compiler ``cupy.RawModule`` uses, which
has no <math.h>) with the loader's options, and is some ``cupy_raw`` port's. Each is
compiled with its port's launch geometry as ``-D`` options, as the loader compiles it, and
its entry points' launch bound is the block the port launches."""

from __future__ import annotations

import ctypes
import glob
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from perfkit.backends.cupy_raw import (
    NVRTC_OPTIONS,
    define_options,
    entry_points,
    kernel_file,
    kernels_dir,
)
from perfkit.model import registry
from perfkit.workloads._gpu import Geometry, kernel_geometry

KERNELS = sorted(kernels_dir().glob("*/*.cu"))
NVCC = shutil.which("nvcc")


def _geometry(path: Path) -> Geometry:
    """The launch geometry of the port that compiles this kernel file."""
    registry.load([])
    return kernel_geometry(path.parent.name, path.stem.partition("_")[2])


def _ptxas(path: Path, arch: str, tmp_path: Path, defines: dict[str, int] | None = None) -> str:
    if defines is None:
        defines = _geometry(path).defines()
    done = subprocess.run(
        [
            NVCC or "nvcc",
            f"-arch={arch}",
            "-cubin",
            "-Xptxas",
            "-v",
            *define_options(defines),
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


def _nvrtc_compile(
    path: Path, arch: str, defines: dict[str, int] | None = None
) -> tuple[int, str, str]:
    """NVRTC's status, log and PTX for a kernel file, with the loader's options and the
    given sizes (default: its port's geometry)."""
    assert NVRTC is not None
    if defines is None:
        defines = _geometry(path).defines()
    program = ctypes.c_void_p()
    status = NVRTC.nvrtcCreateProgram(
        ctypes.byref(program), path.read_bytes(), path.name.encode(), 0, None, None
    )
    assert status == 0
    options = [
        *(o.encode() for o in (*NVRTC_OPTIONS, *define_options(defines))),
        f"--gpu-architecture={arch}".encode(),
    ]
    status = NVRTC.nvrtcCompileProgram(
        program, len(options), (ctypes.c_char_p * len(options))(*options)
    )
    size = ctypes.c_size_t()
    NVRTC.nvrtcGetProgramLogSize(program, ctypes.byref(size))
    log = ctypes.create_string_buffer(size.value)
    NVRTC.nvrtcGetProgramLog(program, log)
    ptx = b""
    if status == 0:
        NVRTC.nvrtcGetPTXSize(program, ctypes.byref(size))
        buffer = ctypes.create_string_buffer(size.value)
        NVRTC.nvrtcGetPTX(program, buffer)
        ptx = buffer.value
    NVRTC.nvrtcDestroyProgram(ctypes.byref(program))
    return status, log.value.decode(errors="replace"), ptx.decode(errors="replace")


def launch_bounds(ptx: str) -> dict[str, int]:
    """Each entry point's ``.maxntid`` (its ``__launch_bounds__``), in threads."""
    found = re.findall(r"\.entry (\w+)\([^{]*?\.maxntid (\d+), (\d+), (\d+)", ptx, re.S)
    return {name: int(x) * int(y) * int(z) for name, x, y, z in found}


def test_there_are_kernels_for_every_array_workload() -> None:
    assert {p.parent.name for p in KERNELS} == {"vector_add", "reduce_sum", "softmax", "matmul"}
    assert len(KERNELS) >= 15


@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
@pytest.mark.parametrize("arch", ["sm_80", "sm_90"])
@pytest.mark.parametrize("path", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kernel_builds_without_spills(path: Path, arch: str, tmp_path: Path) -> None:
    report = _ptxas(path, arch, tmp_path)
    functions = re.findall(r"Compiling entry function '(\w+)'", report)
    assert sorted(functions) == sorted(entry_points(path))
    assert _local_memory(report, len(functions)) == [], report


def _local_memory(report: str, functions: int) -> list[str]:
    """ptxas's spills and stack frames, one entry a function that has any. A register
    array indexed at run time lands on the stack: as slow as a spill."""
    spills = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", report)
    frames = re.findall(r"(\d+) bytes stack frame", report)
    assert len(spills) == len(frames) == functions, report
    return [
        f"{frame} B stack, {stores}/{loads} B spilled"
        for (stores, loads), frame in zip(spills, frames, strict=True)
        if (stores, loads, frame) != ("0", "0", "0")
    ]


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
@pytest.mark.parametrize("arch", ["compute_80", "compute_90"])
@pytest.mark.parametrize("path", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_kernel_compiles_with_nvrtc_as_cupy_loads_it(path: Path, arch: str) -> None:
    status, log, ptx = _nvrtc_compile(path, arch)
    assert status == 0, log
    # Every entry point is bounded to exactly the block its port launches.
    bounds = launch_bounds(ptx)
    assert sorted(bounds) == sorted(entry_points(path))
    assert set(bounds.values()) == {_geometry(path).threads}


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
@pytest.mark.parametrize("path", KERNELS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_a_kernel_without_its_geometry_does_not_compile(path: Path) -> None:
    """No size has a default in the file: the port's geometry is its one source."""
    status, log, _ = _nvrtc_compile(path, "compute_90", defines={})
    assert status != 0
    line = next(line for line in log.splitlines() if "#error directive" in line)
    named = line.partition("needs -D ")[2].partition(" (")[0].split()
    assert sorted(named) == sorted(_geometry(path).defines()), line


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
@pytest.mark.parametrize(
    ("kernel", "sizes", "message"),
    [
        ("matmul/05_2d_blocktiling.cu", {"THREADS": 128}, "one thread per TM x TN piece"),
        ("matmul/06_vectorized.cu", {"BK": 16, "THREADS": 256}, "one float4 of each tile"),
        ("matmul/07_warptiling.cu", {"TN": 8, "THREADS": 128}, "as one float4"),
        ("reduce_sum/01_smem_tree.cu", {"THREADS": 96}, "a tree halves a power of two"),
        ("softmax/02_online_fused.cu", {"THREADS": 100}, "whole warps"),
    ],
)
def test_a_geometry_a_kernel_cannot_run_does_not_compile(
    kernel: str, sizes: dict[str, int], message: str
) -> None:
    path = kernels_dir() / kernel
    status, log, _ = _nvrtc_compile(path, "compute_90", {**_geometry(path).defines(), **sizes})
    assert status != 0
    assert message in log, log


@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
def test_nvrtc_rejects_what_only_nvcc_accepts(tmp_path: Path) -> None:
    """INFINITY comes from <math.h>, which nvcc includes and NVRTC does not."""
    source = tmp_path / "k.cu"
    source.write_text('extern "C" __global__ void k(float* x) { x[0] = -INFINITY; }\n')
    status, log, _ = _nvrtc_compile(source, "compute_90", defines={})
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
        assert all(name.startswith(f"{path.parent.name}_") for name in entry_points(path))


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


SWEEP = Path(__file__).resolve().parent.parent / "scripts" / "kernel_sweep.py"
_LIST_SWEEP = """
import json, sys
from perfkit.model import registry
from perfkit.workloads._gpu import raw_ports
registry.load([sys.argv[1]])
plugin = next(m for n, m in sys.modules.items() if n.startswith("perfkit_plugin_kernel_sweep"))
print(json.dumps({
    "ports": [
        {"workload": w, "name": port, "variant": v, "defines": g.defines()}
        for w, port, v, g in raw_ports()
    ],
    "sweep": [
        {"workload": w, "variant": v, "defines": g.defines(), "threads": g.threads}
        for (w, v), geometries in plugin.SWEEP.items() for g in geometries
    ],
}))
"""


@pytest.fixture(scope="module")
def sweep() -> dict[str, list[dict[str, Any]]]:
    """The sweep plugin's configurations and every ``cupy_raw`` port once it is loaded, from
    a process of its own (its ports would stay in this one's registry)."""
    done = subprocess.run(
        [sys.executable, "-c", _LIST_SWEEP, str(SWEEP)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    found: dict[str, list[dict[str, Any]]] = json.loads(done.stdout)
    return found


def test_the_sweep_adds_one_named_port_per_configuration(
    sweep: dict[str, list[dict[str, Any]]],
) -> None:
    names = [(p["workload"], p["name"]) for p in sweep["ports"]]
    assert len(names) == len(set(names))
    added = [p for p in sweep["ports"] if p["name"] != p["variant"]]
    assert len(added) == len(sweep["sweep"]) >= 30
    for config in sweep["sweep"]:
        assert any(
            (p["workload"], p["variant"], p["defines"])
            == (config["workload"], config["variant"], config["defines"])
            for p in added
        ), config
    assert ("matmul", "2d_blocktiling_bm64_bn64_bk8_tm8_tn8_threads64") in names


@pytest.mark.slow
@pytest.mark.skipif(NVRTC is None, reason="needs NVRTC (pip install -e '.[test]')")
def test_every_sweep_configuration_compiles_bounded_to_its_block(
    sweep: dict[str, list[dict[str, Any]]],
) -> None:
    """No device time goes to a configuration that cannot build or launch."""
    failures = []
    for config in sweep["sweep"]:
        path = kernel_file(str(config["workload"]), str(config["variant"]))
        defines = config["defines"]
        status, log, ptx = _nvrtc_compile(path, "compute_90", defines)
        bounds = set(launch_bounds(ptx).values())
        if status != 0 or bounds != {config["threads"]}:
            failures.append(f"{path.name} {defines}: {bounds} {log[-300:]}")
    assert failures == []


@pytest.mark.slow
@pytest.mark.skipif(NVCC is None, reason="nvcc (the CUDA toolkit) is not installed")
def test_every_sweep_configuration_builds_without_spills(
    sweep: dict[str, list[dict[str, Any]]], tmp_path: Path
) -> None:
    failures = []
    for config in sweep["sweep"]:
        path = kernel_file(config["workload"], config["variant"])
        report = _ptxas(path, "sm_90", tmp_path, config["defines"])
        functions = len(entry_points(path))
        if found := _local_memory(report, functions):
            failures.append(f"{path.name} {config['defines']}: {found}")
    assert failures == []


def test_the_resource_table_lists_every_entry_of_every_configuration(
    sweep: dict[str, list[dict[str, Any]]],
) -> None:
    """scripts/kernel_resources.py (run on the device) has one row an entry point of each
    shipped and swept configuration; where a kernel cannot be loaded, the row says why."""
    done = subprocess.run(
        [sys.executable, str(SWEEP.parent / "kernel_resources.py")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    header, *rows = done.stdout.splitlines()
    assert header.split("\t")[:4] == ["workload", "variant", "geometry", "entry"]
    entries = sum(len(entry_points(path)) for path in KERNELS)
    swept = sum(len(entry_points(kernel_file(c["workload"], c["variant"]))) for c in sweep["sweep"])
    assert len(rows) == entries + swept
    cells = [row.split("\t") for row in rows]
    assert ("matmul", "2d_blocktiling") in {(c[0], c[1]) for c in cells}
    assert "BM=64,BN=64,BK=8,TM=8,TN=8,THREADS=64" in {c[2] for c in cells}
    if done.returncode != 0:  # no CuPy or no device here: each row says so
        assert all(len(c) == 5 and c[4].startswith("error: ") for c in cells), rows[:3]
    else:
        assert all(len(c) == 8 and int(c[7]) > 0 for c in cells)
