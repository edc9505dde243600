"""Engines, settings and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ghlbridge.store import db
from ghlbridge.store.settings import database_url, home_dir

TABLES = {"connections", "oauth_tokens", "alembic_version"}


def test_home_dir_from_env_is_created_0700(tmp_path: Path) -> None:
    path = home_dir({"GHLBRIDGE_HOME": str(tmp_path / "state" / "gb")})
    assert path == tmp_path / "state" / "gb"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_home_dir_default_is_under_user_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("GHLBRIDGE_HOME", raising=False)
    path = home_dir()
    assert path == tmp_path / ".ghlbridge"
    assert stat.S_IMODE(path.stat().st_mode) == 0o700


def test_database_url_defaults_to_sqlite_file_in_home(tmp_path: Path) -> None:
    url = database_url({"GHLBRIDGE_HOME": str(tmp_path)})
    assert url == f"sqlite:///{tmp_path / 'ghlbridge.db'}"
    assert database_url({"GHLBRIDGE_DATABASE_URL": "postgresql://x/y"}) == "postgresql://x/y"


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_postgresql_urls_use_psycopg3_driver(scheme: str) -> None:
    url = db.normalize_url(f"{scheme}://u@h:5432/d")
    assert url.drivername == "postgresql+psycopg"
    assert (url.host, url.database) == ("h", "d")


def test_sqlite_engine_uses_wal_foreign_keys_and_busy_timeout(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == db.SQLITE_BUSY_TIMEOUT_MS
    engine.dispose()


def test_sqlite_transaction_rolls_back_ddl_and_dml(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    with pytest.raises(RuntimeError), db.begin_write(engine) as conn:
        conn.exec_driver_sql("CREATE TABLE t (x INTEGER)")
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("abort")
    assert "t" not in sa.inspect(engine).get_table_names()
    engine.dispose()


def _assert_schema(engine: Engine) -> None:
    inspector = sa.inspect(engine)
    assert set(inspector.get_table_names()) >= TABLES
    columns = {c["name"] for c in inspector.get_columns("connections")}
    assert columns == {
        "id", "name", "provider", "auth_type", "location_id", "company_id", "scopes",
        "secret_ciphertext", "key_id", "created_at", "updated_at",
    }  # fmt: skip
    token_columns = {c["name"] for c in inspector.get_columns("oauth_tokens")}
    assert token_columns == {"key", "ciphertext", "key_id", "expires_at", "version", "updated_at"}
    assert db.current_revision(engine) == db.head_revision()


def test_migrate_sqlite_creates_tables_and_is_idempotent(sqlite_url: str) -> None:
    engine = db.create_engine(sqlite_url)
    assert db.current_revision(engine) is None
    db.migrate(engine)
    db.migrate(engine)
    _assert_schema(engine)
    engine.dispose()


def test_migrate_postgresql_creates_tables_and_is_idempotent(pg_url: str) -> None:
    engine = db.create_engine(pg_url)
    assert db.current_revision(engine) is None
    db.migrate(engine)
    db.migrate(engine)
    _assert_schema(engine)
    with engine.connect() as conn:
        kinds: dict[str, str] = dict(
            conn.execute(
                sa.text(
                    "SELECT column_name, data_type FROM information_schema.columns "
                    "WHERE table_name = 'oauth_tokens' AND table_schema = current_schema()"
                )
            ).all()
        )
    assert kinds["expires_at"] == "timestamp with time zone"
    assert kinds["ciphertext"] == "bytea"
    engine.dispose()


def test_migrate_accepts_a_url_and_ignores_alembic_ini_in_cwd(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = nowhere\n")
    monkeypatch.chdir(tmp_path)
    db.migrate(sqlite_url)
    engine = db.create_engine(sqlite_url)
    _assert_schema(engine)
    engine.dispose()


def test_check_constraint_rejects_unknown_auth_type(engine: Engine) -> None:
    from ghlbridge.store.schema import connections, utcnow

    now = utcnow()
    row = {
        "id": "x", "name": "n", "provider": "ghl", "auth_type": "basic", "scopes": [],
        "secret_ciphertext": b"c", "key_id": "k", "created_at": now, "updated_at": now,
    }  # fmt: skip
    with pytest.raises(sa.exc.IntegrityError), db.begin_write(engine) as conn:
        conn.execute(connections.insert().values(row))
