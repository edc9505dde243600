"""Fixtures for sandbox tests: a fresh in-process sandbox per test, or one served over a real
socket (`sandbox_server`)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.testing import ServedSandbox, serve_sandbox
from tests.sandbox.harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness(SandboxSettings(seed=7))


@pytest.fixture
def make_harness() -> Callable[[SandboxSettings], Harness]:
    return Harness


@pytest.fixture
def sandbox_server(request: pytest.FixtureRequest) -> Iterator[ServedSandbox]:
    """``(base_url, sandbox)`` of a sandbox served by uvicorn on 127.0.0.1 (ephemeral port).

    Settings default to ``SandboxSettings(seed=7)``; a test picks others with
    ``@pytest.mark.parametrize("sandbox_server", [SandboxSettings(...)], indirect=True)``.
    """
    settings = getattr(request, "param", None) or SandboxSettings(seed=7)
    with serve_sandbox(settings) as served:
        yield served
