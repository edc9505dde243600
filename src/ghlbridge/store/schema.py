"""Table definitions shared by the stores and the Alembic migrations' autogenerate.

The migrations in ``migrations/versions`` are the source of truth for the database;
these ``Table`` objects mirror them so queries are typed and so ``alembic revision
--autogenerate`` can diff a change. Every column that holds ciphertext is listed in
``ENCRYPTED_COLUMNS`` so key rotation re-encrypts it; a later migration that adds a
secret-bearing table adds its entry there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
)
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC in Python, whatever the backend stores."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; store timestamps as timezone-aware UTC")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: store naive UTC, re-attach UTC on load.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


connections = Table(
    "connections",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("provider", String(32), nullable=False),
    Column("auth_type", String(16), nullable=False),
    Column("location_id", String(64), nullable=True),
    Column("company_id", String(64), nullable=True),
    Column("scopes", JSON, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("auth_type IN ('pit', 'oauth')", name="auth_type"),
)

oauth_tokens = Table(
    "oauth_tokens",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("version", Integer, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)


@dataclass(frozen=True)
class EncryptedColumn:
    """A table column holding vault ciphertext, and the column naming the key that made it."""

    table: Table
    ciphertext: str
    key_id: str


ENCRYPTED_COLUMNS: tuple[EncryptedColumn, ...] = (
    EncryptedColumn(connections, "secret_ciphertext", "key_id"),
    EncryptedColumn(oauth_tokens, "ciphertext", "key_id"),
)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only kind the store writes)."""
    return datetime.now(UTC)
