"""The sequential design of ``perfkit ab``: the looks taken are the looks planned, a
regression is confirmed before it is final, and a verdict rests on its own case's evidence."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pytest

from perfkit import MeasurePolicy
from perfkit.cli.ab import look_schedule, run_until_decided
from perfkit.records.run_record import CaseResult, Measurement, RunRecord, SampleRun
from perfkit.verdict.gate import GatePolicy, run_gate
from tests.test_gate import ENV


@dataclass
class _Case:
    id: str
    scale: float  # the candidate's time over the baseline's
    spread: float  # lognormal spread of a process's median


@dataclass
class _Campaign:
    """What ``run_until_decided`` asks of a campaign, with samples drawn, not measured:
    each round gives every case it is asked for one process a side."""

    cases: list[_Case]
    first: int
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))
    rounds: int = 0
    runs: dict[tuple[str, str], list[SampleRun]] = field(default_factory=dict)
    asked: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    looked: list[int] = field(default_factory=list)  # the rounds at each look

    @property
    def policy(self) -> MeasurePolicy:
        return MeasurePolicy(processes=self.first)

    def runnable(self, case: _Case) -> bool:
        return True

    def measured(self, case: _Case) -> bool:
        return bool(self.runs.get((case.id, "base")))

    def run_round(self, cases: list[_Case]) -> None:
        self.asked.append((self.rounds, tuple(c.id for c in cases)))
        for case in cases:
            for side, scale in (("base", 1.0), ("cand", case.scale)):
                runs = self.runs.setdefault((case.id, side), [])
                effect = scale * float(self.rng.lognormal(0, case.spread))
                samples = tuple(effect * (1e-3 + self.rng.exponential(1e-5, 10)))
                runs.append(SampleRun(len(runs), 1, samples, "converged"))
        self.rounds += 1

    def records_of(self, partial: bool) -> dict[str, RunRecord]:
        self.looked.append(self.rounds)
        return {side: self._record(side) for side in ("base", "cand")}

    def _record(self, side: str) -> RunRecord:
        results = tuple(
            CaseResult(
                case.id, "w", "b", "v", {}, "ok",
                measurement=Measurement(tuple(self.runs[case.id, side]), {}),
            )
            for case in self.cases
        )  # fmt: skip
        return RunRecord(side, "2026-01-01T00:00:00+0000", "test", False, ENV, self.policy, results)


def _run(cases: list[_Case], first: int, last: int) -> tuple[_Campaign, tuple[int, ...], object]:
    looks = look_schedule(first, last)
    campaign = _Campaign(cases, first)
    report = run_until_decided(campaign, looks, GatePolicy(looks=len(looks)), campaign.records_of)
    return campaign, looks, report


@pytest.mark.parametrize(("first", "last"), [(8, 12), (8, 13), (6, 6), (9, 14)])
def test_the_looks_taken_are_the_looks_planned(first: int, last: int) -> None:
    """Cases that stay undecided to the end (noisy, equal) and one that is slower: every
    look the loop takes is in the schedule, in order, none twice, and no case is measured
    past the confirmation round."""
    cases = [_Case(f"noisy{i}", 1.0, 0.15) for i in range(3)] + [_Case("slow", 1.5, 0.01)]
    campaign, looks, _ = _run(cases, first, last)
    assert campaign.looked == sorted(set(campaign.looked))
    assert set(campaign.looked) <= set(looks), (campaign.looked, looks)
    assert len(campaign.looked) <= len(looks)
    assert max(len(runs) for runs in campaign.runs.values()) <= looks[-1]


def test_the_schedule_ends_at_the_most_repetitions_then_confirms() -> None:
    assert look_schedule(8, 12) == (8, 10, 12, 14)
    assert look_schedule(8, 13) == (8, 10, 12, 13, 15)
    assert look_schedule(8, 8) == (8, 10)
    assert look_schedule(1, 1, confirm=False) == (1,)


def test_a_regression_is_confirmed_before_it_is_final() -> None:
    """A case SLOWER at the first look is measured again; a case SAME there is not, and
    keeps the verdict of that look."""
    cases = [_Case("slow", 1.5, 0.01), _Case("same", 1.0, 0.001)]
    campaign, _, report = _run(cases, 8, 12)
    verdicts = {c.case_id: c.verdict for c in report.comparisons}  # type: ignore[attr-defined]
    assert verdicts == {"slow": "SLOWER", "same": "SAME"}
    assert len(campaign.runs["same", "base"]) == 8
    assert len(campaign.runs["slow", "base"]) > 8
    assert all("same" not in asked for rounds, asked in campaign.asked if rounds >= 8)


def test_a_verdict_rests_only_on_its_own_case() -> None:
    """Judged at one look, a case's q-value depends on the cases judged with it; judged
    apart (a later look judges only the cases measured again), it does not move when
    other cases' data change."""
    rng = np.random.default_rng(3)
    first = _Campaign([_Case("x", 1.06, 0.01), _Case("y", 1.0, 0.01)], 8, rng)
    for _ in range(8):
        first.run_round(first.cases)
    records = first.records_of(False)
    alone = run_gate(records["base"], records["cand"], GatePolicy(), {"x"})
    other = _Campaign([_Case("x", 1.06, 0.01), _Case("y", 2.0, 0.01)], 8)
    other.runs = {**first.runs}
    for side, scale in (("base", 1.0), ("cand", 2.0)):
        other.runs["y", side] = [
            SampleRun(i, 1, tuple(s * scale for s in run.samples), "converged")
            for i, run in enumerate(first.runs["y", "base"])
        ]
    changed = other.records_of(False)
    again = run_gate(changed["base"], changed["cand"], GatePolicy(), {"x"})
    assert [c.case_id for c in alone.comparisons] == ["x"]
    assert alone.comparisons[0] == again.comparisons[0]


class _Spent:
    """A time budget with nothing left."""

    def left(self) -> float:
        return 0.0


def test_a_spent_budget_ends_the_run_at_the_first_look() -> None:
    """Nothing left after the first repetitions: no stage runs, and the verdicts are the
    first look's (a case past the threshold there still fails, not cleared)."""
    cases = [_Case(f"noisy{i}", 1.0, 0.15) for i in range(3)] + [_Case("slow", 1.5, 0.01)]
    looks = look_schedule(8, 12)
    campaign = _Campaign(cases, 8)
    report = run_until_decided(
        campaign, looks, GatePolicy(looks=len(looks)), campaign.records_of, budget=_Spent()
    )
    assert campaign.rounds == 8
    assert campaign.looked == [8]
    slow = next(c for c in report.comparisons if c.case_id == "slow")
    assert report.fails(slow), slow


def test_a_budget_serves_the_cases_that_would_fail_then_the_least_certain() -> None:
    from perfkit.cli.ab import _Cost, _least_certain_first
    from perfkit.verdict.comparison import Comparison

    def judged(name: str, verdict: str, detectable: float, ratio: float = 1.0) -> Comparison:
        return Comparison(
            name, "w", verdict, ratio=ratio, threshold=0.05, test="paired", detectable=detectable
        )  # type: ignore[arg-type]

    report = run_gate(*_two_empty(), GatePolicy())
    report = type(report)("a", "b", GatePolicy(), (
        judged("narrow", "AMBIGUOUS", 0.04),
        judged("wide", "UNDERPOWERED", 0.30),
        judged("crossing", "UNDERPOWERED", 0.10, ratio=1.2),
        judged("slower", "SLOWER", 0.02, ratio=1.5),
    ))  # fmt: skip
    cases = [_Case(name, 1.0, 0.0) for name in ("narrow", "wide", "crossing", "slower")]
    ordered = [c.id for c in _least_certain_first(cases, report)]
    assert ordered == ["crossing", "slower", "wide", "narrow"]
    cost = _Cost()
    cost.seconds, cost.case_rounds = 10.0, 10  # a second a case and round
    assert [c.id for c in cost.fitting(cases, 2, 5.0)] == ["narrow", "wide"]
    assert cost.fitting(cases, 2, 1.0) == []


def _two_empty() -> tuple[RunRecord, RunRecord]:
    empty = RunRecord("a", "2026-01-01T00:00:00+0000", "test", False, ENV, MeasurePolicy(), ())
    return empty, empty
