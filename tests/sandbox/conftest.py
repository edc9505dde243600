"""Fixtures for sandbox tests: a fresh in-process sandbox per test."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from ghlbridge.sandbox import SandboxSettings
from tests.sandbox.harness import Harness


@pytest.fixture
def harness() -> Harness:
    return Harness(SandboxSettings(seed=7))


@pytest.fixture
def make_harness() -> Callable[[SandboxSettings], Harness]:
    return Harness
