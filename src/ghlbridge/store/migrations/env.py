"""Alembic environment for ghlbridge: runs on the connection handed in by ``db.migrate``.

Run from the command line (e.g. to autogenerate a revision) with the packaged ini:
``alembic -c src/ghlbridge/store/migrations/alembic.ini revision --autogenerate -m "..."``;
the database then comes from ``-x url=...`` or ``GHLBRIDGE_DATABASE_URL``.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection

from ghlbridge.store.db import begin_write, create_engine
from ghlbridge.store.schema import metadata
from ghlbridge.store.settings import database_url

config = context.config


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or database_url()


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(_url())
    try:
        with begin_write(engine) as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
