"""Reports in a real headless Chromium: they load from file://, draw every figure, log no
errors, fetch nothing, and show record strings as text."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from perfkit import load_record
from perfkit.records.run_record import RunRecord, record_from_dict
from perfkit.report.browser import find_chromium, inspect_report
from perfkit.report.html import write_report
from tests.conftest import DATA, perfkit
from tests.test_report_figures import EVIL, evil_record

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None, reason="Debian chromium is not installed (.ci/run installs it)"
    ),
]

ARTIFACTS = Path(__file__).resolve().parent.parent / "reports" / "test-artifacts"


@pytest.mark.slow
def test_record_strings_render_as_text_and_run_nothing(tmp_path: Path) -> None:
    page = write_report([evil_record()], tmp_path / "evil.html", EVIL)
    shot = ARTIFACTS / "escaped-report.png"
    check = inspect_report(page, shot)
    assert check.figures >= 6
    assert check.rendered == check.figures
    assert check.console_errors == []  # no alert() dialog either
    assert check.network_requests == []
    assert EVIL in check.text
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
def test_reports_of_a_folder_can_share_one_plotly_js(tmp_path: Path) -> None:
    """--shared-plotly: one plotly.js file beside the reports, each page a fraction of the
    self-contained one's size, and still drawing everything from file:// alone."""
    record = load_record(DATA / "record_v1.json")
    whole = write_report([record], tmp_path / "whole.html", "whole")
    pages = [write_report([record], tmp_path / f"{n}.html", n, shared=True) for n in "ab"]
    assert len(list(tmp_path.glob("plotly-*.min.js"))) == 1
    for page in pages:
        assert page.stat().st_size * 10 < whole.stat().st_size
    check = inspect_report(pages[1])
    assert check.ok, (check.console_errors, check.network_requests)
    assert check.figures >= 4


@pytest.mark.slow
def test_report_of_a_live_quick_run(tmp_path: Path) -> None:
    done = perfkit("compare", "-w", "softmax", "--quick", "--no-calibrate", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    report = tmp_path / done.stdout.strip().splitlines()[-1].removeprefix("report: ")
    check = inspect_report(report, ARTIFACTS / "live-report.png")
    assert check.ok, (check.console_errors, check.network_requests)
    assert check.figures >= 4
    # The GPU backends' cases are skipped here: they must not push the results down.
    assert check.measured_top is not None
    assert check.measured_top < check.viewport_height / 2, "results on the first screen"
    assert "softmax: median time per call" in check.text


@pytest.mark.slow
def test_five_records_of_the_cpu_suite_stay_small_and_render(tmp_path: Path) -> None:
    records = []
    for i in range(5):
        done = perfkit(
            "run",
            *("-w", "vector_add", "-w", "reduce_sum", "-w", "softmax", "-w", "matmul"),
            "--quick",
            "--no-calibrate",
            "--no-report",
            "-o",
            f"r{i}.json",
            cwd=tmp_path,
        )
        assert done.returncode == 0, done.stderr
        records.append(load_record(tmp_path / f"r{i}.json"))
    page = write_report(records, tmp_path / "five.html")
    check = inspect_report(page, ARTIFACTS / "five-records.png")
    assert check.ok, (check.console_errors, check.network_requests)
    size = page.stat().st_size
    assert size < 10 * 2**20
    figures = {"bytes": size, "figures": check.figures, "load_seconds": check.load_seconds}
    (ARTIFACTS / "five-records.json").write_text(json.dumps(figures))
    print(
        f"five-record report: {size / 2**20:.1f} MiB, {check.figures} figures, "
        f"rendered in {check.load_seconds:.2f} s"
    )


def _gpu_record() -> RunRecord:
    """The fixture with its vector_add cases copied onto GPU backends at other speeds,
    a GPU ceiling and NVML readings: what a GPU machine's record holds."""
    data: dict[str, Any] = json.loads((DATA / "record_v1.json").read_text())
    base = next(r for r in data["results"] if r["workload"] == "vector_add" and r["status"] == "ok")
    for backend, variant, speed in (
        ("cupy", "elementwise", 20.0),
        ("cupy_raw", "naive", 12.0),
        ("cupy_raw", "vectorized", 19.0),
        ("numba_cuda", "grid_stride", 15.0),
    ):
        result = copy.deepcopy(base)
        result.update(backend=backend, variant=variant, reference=False)
        result["case_id"] = result["case_id"].replace("numpy:default", f"{backend}:{variant}")
        for run in result["measurement"]["runs"]:
            run["samples"] = [s / speed for s in run["samples"]]
        metrics = result["measurement"]["metrics"]
        for key in ("time/median", "time/q1", "time/q3", "time/iqr", "time/min", "time/mean"):
            metrics[key] /= speed
        metrics.update({"gpu/mem_peak": 3 * 4096 * 4.0, "gpu/power_w": 310.0, "gpu/throttled": 0.0})
        data["results"].append(result)
    data["environment"]["ceilings"]["cuda"] = {
        "bandwidth": [[1 << 24, 5.0e12], [1 << 32, 3.0e12]],
        "flops": {"float32": 48.5e12, "float64": 52.0e12, "tf32": 350e12},
    }
    return record_from_dict(data)


@pytest.mark.slow
def test_a_gpu_record_draws_its_ladder_and_gpu_roofline(tmp_path: Path) -> None:
    page = write_report([_gpu_record()], tmp_path / "gpu.html", "GPU")
    check = inspect_report(page, ARTIFACTS / "gpu-report.png")
    assert check.ok, (check.console_errors, check.network_requests)
    assert check.rendered == check.figures
    assert "speed as a fraction of cupy" in check.text
    assert "cuda" in check.text.lower()
