"""Fixtures for the store tests: SQLite in a temp dir, and PostgreSQL in a throwaway schema.

PostgreSQL comes from ``GHLBRIDGE_TEST_POSTGRES_URL`` (default
``postgresql://postgres@127.0.0.1:5432/test``); tests that need it are skipped, with the
reason printed, when it cannot be reached.
"""

from __future__ import annotations

import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

import ghlbridge
from ghlbridge.store.db import create_engine, migrate, normalize_url
from ghlbridge.store.vault import Vault, generate_key

PG_URL = os.environ.get("GHLBRIDGE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SRC_DIR = str(Path(ghlbridge.__file__).resolve().parent.parent)
_pg_error: list[str] = []


def _postgres_unreachable() -> str | None:
    """Why PostgreSQL cannot be used, or None; probed once per session."""
    if not _pg_error:
        engine = sa.create_engine(normalize_url(PG_URL), connect_args={"connect_timeout": 3})
        try:
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            _pg_error.append("")
        except Exception as exc:
            first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            _pg_error.append(f"PostgreSQL unreachable at {PG_URL}: {first_line}")
        finally:
            engine.dispose()
    return _pg_error[0] or None


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose connections use a fresh schema (search_path), dropped after the test."""
    reason = _postgres_unreachable()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI must run the PostgreSQL tests)")
        print(f"SKIP: {reason}", file=sys.stderr)
        pytest.skip(reason)
    schema = f"ghlb_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = sa.create_engine(normalize_url(PG_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    url = normalize_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'db' / 'ghlbridge.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    """The URL of an empty database, once per backend."""
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    return str(request.getfixturevalue(name))


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A migrated engine, once per backend."""
    eng = create_engine(db_url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    eng = create_engine(sqlite_url)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def vault() -> Vault:
    return Vault([generate_key()])


@pytest.fixture
def home(tmp_path: Path) -> Path:
    path = tmp_path / "home"
    path.mkdir(mode=0o700)
    return path


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a child Python that must import this checkout of ghlbridge."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC_DIR, env.get("PYTHONPATH")) if p)
    env.update(extra)
    return env


__all__ = ["PG_URL", "subprocess_env"]
