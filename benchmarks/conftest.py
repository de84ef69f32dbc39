"""The pytest-benchmark adapter runs in one process: the project's ``--dist`` default (for
its parallel test suite) must not make pytest-benchmark believe xdist is on and disable
itself."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    if not getattr(config.option, "numprocesses", None):
        config.option.dist = "no"
