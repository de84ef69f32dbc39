"""perfkit: matched-workload benchmarks across NumPy, CUDA (CuPy, CUDA C, Numba) and allocators.

Importing perfkit needs only NumPy; frameworks load inside backends when they are used.
"""

from perfkit.engine.sampler import MeasurePolicy
from perfkit.model.axes import Axis, ParamSpace, Skip
from perfkit.model.backend import (
    Availability,
    Backend,
    CpuBackend,
    DerivedBackend,
    register_backend,
)
from perfkit.model.errors import RecordError, UsageError
from perfkit.model.registry import register_workload
from perfkit.model.workload import (
    Case,
    CheckResult,
    Implementation,
    Work,
    Workload,
    exact_match,
    relative_error,
    workload,
)
from perfkit.records.run_record import (
    SCHEMA_VERSION,
    CaseResult,
    Measurement,
    RunRecord,
    SampleRun,
    load_record,
)

__version__ = "0.1.0"

__all__ = [
    "SCHEMA_VERSION",
    "Availability",
    "Axis",
    "Backend",
    "Case",
    "CaseResult",
    "CheckResult",
    "CpuBackend",
    "DerivedBackend",
    "Implementation",
    "MeasurePolicy",
    "Measurement",
    "ParamSpace",
    "RecordError",
    "RunRecord",
    "SampleRun",
    "Skip",
    "UsageError",
    "Work",
    "Workload",
    "exact_match",
    "load_record",
    "register_backend",
    "register_workload",
    "relative_error",
    "workload",
]
