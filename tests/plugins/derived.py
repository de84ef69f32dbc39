"""Test-only derived backend: every numpy port, run on a copy of its inputs."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from perfkit import CpuBackend, Implementation, register_backend
from perfkit.model.axes import Params


class CopiedNumpy(CpuBackend):
    name = "numpy_copied"
    label = "NumPy on copied inputs"
    base = "numpy"

    def derive(self, implementation: Implementation) -> Sequence[Implementation]:
        def prepare(inputs: Any, params: Params) -> Any:
            copied = {k: getattr(v, "copy", lambda v=v: v)() for k, v in inputs.items()}
            return implementation.prepare(copied, params)

        return [
            dataclasses.replace(implementation, backend=self.name, prepare=prepare, reference=False)
        ]


register_backend(CopiedNumpy())
