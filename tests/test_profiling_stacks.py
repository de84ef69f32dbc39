"""Stacks, call graphs unfolded into stacks, and differences: the arithmetic every flame
graph and top table rests on."""

from __future__ import annotations

import pytest

from perfkit.profiling.stacks import CallGraph, Stack, Stacks, difference, unfold

COLLAPSED = """\
main (w.py:1);_profiled_loop (worker.py:9);run (m.py:3);heavy (m.py:5) 80
main (w.py:1);_profiled_loop (worker.py:9);run (m.py:3);light (m.py:8) 15
main (w.py:1);_profiled_loop (worker.py:9);run (m.py:3) 5
main (w.py:1);sleep 40
"""


def test_collapsed_stacks_round_trip_and_merge() -> None:
    stacks = Stacks.from_collapsed(COLLAPSED + "main (w.py:1);sleep 2\n", "samples")
    assert stacks.total == pytest.approx(142)
    again = Stacks.from_collapsed(stacks.to_collapsed(), "samples")
    assert {s.frames: s.cost for s in again.stacks} == {s.frames: s.cost for s in stacks.stacks}
    assert {s.frames: s.cost for s in stacks.stacks}[("main (w.py:1)", "sleep")] == 42


def test_below_the_loop_keeps_the_case_only() -> None:
    case = Stacks.from_collapsed(COLLAPSED, "samples").below("_profiled_loop (")
    assert case.total == pytest.approx(100)
    assert case.share("heavy (") == pytest.approx(0.80)
    assert case.share("light (") == pytest.approx(0.15)
    assert all(s.frames[0] == "run (m.py:3)" for s in case.stacks)


def test_functions_count_self_and_total_once_a_stack() -> None:
    stacks = Stacks(
        "samples",
        (Stack(("f", "g", "f"), 3.0), Stack(("f",), 1.0), Stack(("g",), 2.0)),
    )
    rows = {r.name: r for r in stacks.functions()}
    assert rows["f"].total_cost == pytest.approx(4.0)  # the recursive stack counted once
    assert rows["f"].self_cost == pytest.approx(4.0)
    assert rows["g"].total_cost == pytest.approx(5.0)
    assert rows["g"].self_cost == pytest.approx(2.0)
    assert stacks.functions()[0].name == "g"


def test_icicle_nodes_are_inclusive_and_parents_come_first() -> None:
    nodes = Stacks.from_collapsed(COLLAPSED, "samples").below("_profiled_loop (").nodes()
    by_id = {n.id: n for n in nodes}
    assert by_id["run (m.py:3)"].value == pytest.approx(100)
    assert by_id["run (m.py:3);heavy (m.py:5)"].parent == "run (m.py:3)"
    seen: set[str] = {""}
    for node in nodes:
        assert node.parent in seen
        seen.add(node.id)
    children = [n for n in nodes if n.parent == "run (m.py:3)"]
    assert sum(n.value for n in children) <= by_id["run (m.py:3)"].value


def test_unfold_splits_a_callee_by_its_callers_and_keeps_the_total() -> None:
    # loop -> run -> {heavy, light}; heavy -> sin; a recursive call in light.
    graph = CallGraph(
        own={"loop": 1.0, "run": 2.0, "heavy": 10.0, "light": 5.0, "sin": 60.0},
        calls={
            ("loop", "run"): 97.0,
            ("run", "heavy"): 70.0,
            ("run", "light"): 25.0,
            ("heavy", "sin"): 60.0,
            ("light", "light"): 20.0,  # recursion: already inside light's edge from run
            ("light", "sin"): 0.0,
        },
    )
    stacks = unfold(graph, "loop", "seconds")
    assert stacks.total == pytest.approx(98.0)  # the root's own plus its call
    assert stacks.share("heavy") == pytest.approx(70 / 98)
    assert stacks.share("sin") == pytest.approx(60 / 98)
    assert not any(s.frames.count("light") > 1 for s in stacks.stacks)


def test_unfold_of_an_unknown_root_is_empty() -> None:
    assert unfold(CallGraph({"a": 1.0}, {}), "missing", "seconds").stacks == ()


def test_difference_puts_the_grown_frame_first() -> None:
    base = Stacks("samples", (Stack(("run", "sin"), 50.0), Stack(("run", "cos"), 50.0)))
    cand = Stacks("samples", (Stack(("run", "sin"), 75.0), Stack(("run", "cos"), 25.0)))
    # The candidate is twice as slow a call: sin went from 0.5 to 1.5, cos stayed at 0.5.
    changes = difference(base, cand, 1.0, 2.0)
    assert changes[0].id == "run"
    grown = [c for c in changes if c.label in ("sin", "cos")]
    assert grown[0].label == "sin"
    assert grown[0].change == pytest.approx(1.0)
    cos = next(c for c in changes if c.label == "cos")
    assert cos.change == pytest.approx(0.0)
    assert cos.base_share == pytest.approx(0.5)
    assert cos.candidate_share == pytest.approx(0.25)
