"""Engines for SQLite and PostgreSQL, write transactions, and programmatic Alembic migrations.

SQLite engines run in WAL mode with foreign keys on and a busy timeout, and SQLAlchemy (not
the ``sqlite3`` driver) emits ``BEGIN`` so transactions, savepoints and DDL behave as on
PostgreSQL. :func:`begin_write` starts ``BEGIN IMMEDIATE`` on SQLite so a read-then-write
transaction takes the write lock up front instead of failing with "database is locked".
PostgreSQL URLs (``postgresql://``, ``postgres://``) are rewritten to the psycopg 3 driver.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import StaticPool

from ghlbridge.store.settings import database_url

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).resolve().with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
# First key of every two-key PostgreSQL advisory lock ghlbridge takes ("ghlb"), so our
# locks never collide with another application's (procrastinate uses advisory locks too).
ADVISORY_LOCK_NAMESPACE = 0x67686C62
MIGRATION_LOCK_NAMESPACE = ADVISORY_LOCK_NAMESPACE + 1
_BEGIN_OPTION = "ghlbridge_sqlite_begin"


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick ghlbridge's driver: psycopg 3 for any PostgreSQL URL."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def is_sqlite_memory(url: URL) -> bool:
    """Whether ``url`` names an in-memory SQLite database (one per process: for tests)."""
    database = url.database or ""
    return database in ("", ":memory:") or url.query.get("mode") == "memory"


def sqlite_path(engine: Engine) -> Path | None:
    """The database file of a file-backed SQLite engine, else ``None``."""
    if engine.dialect.name != "sqlite" or is_sqlite_memory(engine.url):
        return None
    return Path(engine.url.database or "").expanduser().resolve()


def create_engine(url: str | URL | None = None, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` (default :func:`~ghlbridge.store.settings.database_url`)."""
    parsed = normalize_url(url if url is not None else database_url())
    if parsed.get_backend_name() != "sqlite":
        kwargs.setdefault("pool_pre_ping", True)
        return sa.create_engine(parsed, **kwargs)

    memory = is_sqlite_memory(parsed)
    if memory:
        # One shared connection, so every thread (asyncio.to_thread) sees the same database.
        kwargs.setdefault("poolclass", StaticPool)
        kwargs.setdefault("connect_args", {}).setdefault("check_same_thread", False)
    elif parsed.database:
        Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(parsed, **kwargs)
    _install_sqlite_hooks(engine, wal=not memory)
    return engine


def _install_sqlite_hooks(engine: Engine, *, wal: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy emit BEGIN itself (see _on_begin): the sqlite3 module's legacy
        # mode never begins before SELECT or DDL, which breaks atomic read-modify-write.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys = ON")
            if wal:
                cursor.execute("PRAGMA journal_mode = WAL")
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get(_BEGIN_OPTION, "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")


@contextmanager
def begin_write(engine: Engine) -> Iterator[Connection]:
    """Open a transaction that will write: ``BEGIN IMMEDIATE`` on SQLite, plain on others.

    Commits when the block exits normally, rolls back on an exception.
    """
    with engine.connect() as conn:
        conn.execution_options(**{_BEGIN_OPTION: "IMMEDIATE"})
        with conn.begin():
            yield conn


def upsert(
    conn: Connection,
    table: sa.Table,
    values: dict[str, Any],
    keys: Sequence[str],
    *,
    update: Sequence[str] | None = None,
) -> None:
    """INSERT `values`, or where a row with the same `keys` exists, UPDATE its `update`
    columns (default: every non-key column given), atomically on SQLite and PostgreSQL."""
    from sqlalchemy.dialects import postgresql, sqlite

    name = conn.dialect.name
    if name == "sqlite":
        stmt: Any = sqlite.insert(table).values(values)
    elif name == "postgresql":
        stmt = postgresql.insert(table).values(values)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {name}")
    columns = update if update is not None else [k for k in values if k not in keys]
    if not columns:
        conn.execute(stmt.on_conflict_do_nothing(index_elements=list(keys)))
        return
    conn.execute(
        stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in columns}
        )
    )


def alembic_config() -> Config:
    """An Alembic config pointing at the migrations packaged with ghlbridge (no alembic.ini)."""
    from alembic.config import Config  # imported on use: alembic is slow to import

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    return config


def head_revision() -> str:
    """The newest migration revision shipped with this version of ghlbridge."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migrations found in {MIGRATIONS_DIR}")
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at, or ``None`` if it was never migrated."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def migrate(engine_or_url: Engine | str | URL | None = None, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (default: head) in one transaction.

    Safe to call from several processes at once: on PostgreSQL an advisory lock, on SQLite
    ``BEGIN IMMEDIATE``, makes them take turns, and later ones find nothing left to do.
    """
    from alembic import command

    if isinstance(engine_or_url, Engine):
        engine, owned = engine_or_url, False
    else:
        engine, owned = create_engine(engine_or_url), True
    try:
        with begin_write(engine) as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(
                    sa.text("SELECT pg_advisory_xact_lock(:ns, hashtext('ghlbridge:migrate'))"),
                    {"ns": MIGRATION_LOCK_NAMESPACE},
                )
            config = alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, revision)
    finally:
        if owned:
            engine.dispose()
