"""SIGTERM and SIGINT stop a run where it is safe to: never in the middle of a journal line,
never in the ``finally`` that closes a round's workers (``perfkit.model.stopping``)."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from perfkit import MeasurePolicy
from perfkit.cli.console import interrupted_code
from perfkit.engine import supervisor, worker_process
from perfkit.engine.journal import Journal, JournalHeader, recover
from perfkit.engine.protocol import WorkerReport
from perfkit.engine.runner import Campaign, Side, plan_of
from perfkit.machine.capture import capture_environment
from perfkit.model import registry
from perfkit.model.stopping import check_stop, stop_on_signals, stop_requested
from tests.conftest import FAULTY


@pytest.fixture(autouse=True)
def _registry(loaded: None) -> None:
    return None


def _cases(*keys: str) -> list[Any]:
    return registry.expand_cases(registry.get_workload("faulty_probe"), list(keys), quick=True)


class _SignalledMidWrite:
    """A file whose every write is cut in two by a SIGTERM to this process."""

    def __init__(self, handle: Any) -> None:
        self.handle = handle

    def write(self, text: str) -> int:
        half = len(text) // 2
        self.handle.write(text[:half])
        os.kill(os.getpid(), signal.SIGTERM)
        return int(self.handle.write(text[half:]))

    def flush(self) -> None:
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def test_a_signal_in_the_middle_of_a_journal_line_leaves_the_line_whole(tmp_path: Path) -> None:
    (case,) = _cases("python:good")
    header = JournalHeader(
        "r", "t", "perfkit run", capture_environment(False), MeasurePolicy.quick(), ("",),
        (plan_of(case),),
    )  # fmt: skip
    path = tmp_path / "r.journal.jsonl"
    with stop_on_signals() as seen, Journal(path, header) as journal:
        journal._handle = _SignalledMidWrite(journal._handle)  # type: ignore[assignment]
        journal.add("", case.id, WorkerReport.failed("finished before the signal"))
        assert seen == [signal.SIGTERM]
        assert stop_requested() == signal.SIGTERM
        with pytest.raises(KeyboardInterrupt):
            check_stop()  # acted on where the run checks, not inside the write
        assert interrupted_code(seen) == 143
    (result,) = recover(path)[""].results
    assert result.reason == "finished before the signal"
    assert stop_requested() is None  # outside the context nothing is asked


def test_a_signal_while_a_round_closes_its_workers_still_closes_every_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    started: list[worker_process.WorkerProcess] = []
    real_init = worker_process.WorkerProcess.__init__

    def recorded(self: Any, *args: Any, **kwargs: Any) -> None:
        real_init(self, *args, **kwargs)
        started.append(self)

    real_close = supervisor.Supervisor.close
    signalled: list[bool] = []

    def close_after_a_signal(self: Any) -> None:
        if not signalled:  # one SIGTERM, as the first worker of the round is closed
            signalled.append(True)
            os.kill(os.getpid(), signal.SIGTERM)
        real_close(self)

    monkeypatch.setattr(worker_process.WorkerProcess, "__init__", recorded)
    monkeypatch.setattr(supervisor.Supervisor, "close", close_after_a_signal)
    policy = MeasurePolicy.quick(timeout=60.0)
    campaign = Campaign(
        _cases("python:good"), policy, {"base": Side(), "cand": Side()}, plugins=[str(FAULTY)]
    )
    with stop_on_signals() as seen:
        campaign.run_round(campaign.cases)
        assert seen == [signal.SIGTERM]
    assert len(started) == 2
    assert [w.proc.poll() is not None for w in started] == [True, True]
    assert all(campaign.reports[side, campaign.cases[0].id] for side in ("base", "cand"))
