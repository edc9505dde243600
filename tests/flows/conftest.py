"""Fixtures for flow tests: a migrated store per backend (SQLite, PostgreSQL), an
in-process sandbox, and an engine wired to both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy.engine import Engine

from ghlbridge.client.transport import ASGITransport
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app, sandbox_of
from ghlbridge.store.db import create_engine, migrate
from tests.store.conftest import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)

BASE = "http://sandbox.test"


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:  # noqa: F811
    eng = create_engine(db_url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Engine]:
    eng = create_engine(f"sqlite:///{tmp_path / 'flows.db'}")
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def store(db: Engine) -> FlowStore:
    return FlowStore(db)


class SandboxWorld:
    """An in-process sandbox and the env a flow engine needs to reach it."""

    def __init__(self, settings: SandboxSettings | None = None) -> None:
        self.app = create_app(settings or SandboxSettings(seed=3, demo_records=0))
        self.sb: Sandbox = sandbox_of(self.app)

    @property
    def env(self) -> dict[str, str]:
        return {
            "GHL_TOKEN": self.sb.location_token.value,
            "GHL_LOCATION_ID": self.sb.location_id,
            "GHL_BASE_URL": BASE,
        }

    def clients(self) -> Clients:
        return Clients(environ=self.env, transport=lambda: ASGITransport(cast(Any, self.app)))


@pytest.fixture
def world() -> SandboxWorld:
    return SandboxWorld()
