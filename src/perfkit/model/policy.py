"""MeasurePolicy: how long and how carefully each case is measured; stored in every record."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, get_args

from perfkit.model.errors import UsageError

__all__ = ["MEASURES", "Measure", "MeasurePolicy"]

Measure = Literal["time", "instructions"]
MEASURES: tuple[str, ...] = get_args(Measure)


@dataclass(frozen=True, slots=True)
class MeasurePolicy:
    """How long and how carefully to measure each case.

    ``budget`` is the sampling time per case in seconds, shared by its ``processes``
    worker processes; a process stops earlier once the 95% CI of its median is narrower
    than ``target_rel_ci`` of the median, and never takes more than ``max_samples``. It
    always takes ``min_samples``: a slow case gets fewer calls per sample and, where one
    call alone outlasts its share, more time than the budget, so that every process holds
    enough samples for its median to mean something. A CI inside one process cannot see
    how much processes differ from each other, so a case whose process medians spread wider
    than twice the target gets up to ``extra_processes`` more, each with the same share.

    A repetition during which other processes took more than ``contention_cpu`` cores'
    worth of CPU (steal time included) is flagged as contended in the record.
    """

    warmup: int = 1
    min_sample_time: float = 0.02
    min_samples: int = 10
    max_samples: int = 200
    target_rel_ci: float = 0.02
    budget: float = 4.0
    processes: int = 2
    extra_processes: int = 2
    timeout: float = 120.0
    blas_threads: int = 0  # 0: every CPU this process may run on
    seed: int = 0
    confidence: float = 0.95
    measure: Measure = "time"  # or "instructions": callgrind counts, CPU cases only
    instruction_loops: int = 20
    cold: bool = False  # GPU backends: flush the L2 cache before every timed call
    contention_cpu: float = 0.25

    def __post_init__(self) -> None:
        for name in ("min_sample_time", "budget", "timeout", "target_rel_ci", "contention_cpu"):
            if not getattr(self, name) > 0:
                raise UsageError(f"{name} must be positive, got {getattr(self, name)}")
        if self.processes < 1 or self.min_samples < 1 or self.max_samples < self.min_samples:
            raise UsageError("need processes >= 1 and 1 <= min_samples <= max_samples")
        if self.extra_processes < 0:
            raise UsageError(f"extra_processes must be >= 0, got {self.extra_processes}")
        if self.measure not in MEASURES:
            raise UsageError(f"measure must be one of {', '.join(MEASURES)}, got {self.measure!r}")
        if not 0 < self.confidence < 1:
            raise UsageError(f"confidence must lie in (0, 1), got {self.confidence}")

    @classmethod
    def quick(cls, **changes: Any) -> MeasurePolicy:
        """Seconds, not minutes: one process, short samples, a loose CI."""
        base = cls(
            min_sample_time=0.005,
            min_samples=5,
            max_samples=50,
            target_rel_ci=0.05,
            budget=0.5,
            processes=1,
            extra_processes=0,
        )
        return dataclasses.replace(base, **changes)

    def replace(self, **changes: Any) -> MeasurePolicy:
        return dataclasses.replace(self, **changes)

    @property
    def counting(self) -> bool:
        """Instruction counts, not time."""
        return self.measure == "instructions"

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MeasurePolicy:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})
