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
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
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
    CheckConstraint("auth_type IN ('pit', 'oauth', 'static')", name="auth_type"),
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


# -- flows (migration 0002) ----------------------------------------------------------------
# An accepted trigger event; `dedupe_key` (source-qualified, e.g. a webhookId) is unique so a
# redelivered event is stored once. Runs are created in the same transaction as their event.
flow_events = Table(
    "flow_events",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("source", String(32), nullable=False),
    Column("type", String(128), nullable=True),
    Column("flow", String(128), nullable=True),
    Column("location_id", String(64), nullable=True),
    Column("dedupe_key", String(255), nullable=True, unique=True),
    Column("payload", JSON, nullable=False),
    Column("runs_created", Integer, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    Index("ix_flow_events_received_at", "received_at"),
)

RUN_STATES = ("pending", "running", "retrying", "succeeded", "failed", "dead")

flow_runs = Table(
    "flow_runs",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("flow", String(128), nullable=False),
    Column("event_id", String(36), ForeignKey("flow_events.id"), nullable=False),
    Column("location_id", String(64), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("error", Text, nullable=True),
    Column("owner", String(128), nullable=True),
    Column("lease_until", UTCDateTime, nullable=True),
    Column("next_attempt_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("started_at", UTCDateTime, nullable=True),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint("flow", "event_id", "location_id", name="uq_flow_runs_flow_event"),
    CheckConstraint(
        "status IN ('pending', 'running', 'retrying', 'succeeded', 'failed', 'dead')",
        name="status",
    ),
    Index("ix_flow_runs_status_next", "status", "next_attempt_at"),
    Index("ix_flow_runs_flow_created", "flow", "created_at"),
)

# One row per try of one step (per for_each item): written as `running` BEFORE the action
# is called, with the idempotency key, and updated with the result after it.
step_attempts = Table(
    "step_attempts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run_id", String(36), ForeignKey("flow_runs.id"), nullable=False),
    Column("step_id", String(64), nullable=False),
    Column("item_index", Integer, nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("idempotency_key", String(64), nullable=False),
    Column("action", String(160), nullable=False),
    Column("idempotent", Boolean, nullable=False),
    Column("input", JSON, nullable=True),
    Column("output", JSON, nullable=True),
    Column("error", Text, nullable=True),
    Column("started_at", UTCDateTime, nullable=False),
    Column("finished_at", UTCDateTime, nullable=True),
    UniqueConstraint(
        "run_id", "step_id", "item_index", "attempt", name="uq_step_attempts_run_step"
    ),
    CheckConstraint(
        "status IN ('running', 'succeeded', 'failed', 'skipped', 'unknown')", name="status"
    ),
)

# Trigger state that must survive restarts: a poll's baseline and last poll, a schedule's
# last fire. One JSON value per key.
flow_checkpoints = Table(
    "flow_checkpoints",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("value", JSON, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# Change keys already accepted per flow ("seen" ids, fingerprints, schedule fires). The
# primary key makes "have we processed this change?" an INSERT, never a read-then-write;
# `value` lets an item's last-seen fingerprint be compared-and-set; rows with an
# `expires_at` stop deduplicating once it passes.
flow_dedupe = Table(
    "flow_dedupe",
    metadata,
    Column("scope", String(128), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("value", String(128), nullable=True),
    Column("event_id", String(36), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
)


# -- server (migration 0003) ---------------------------------------------------------------
# The admin credential of the REST API: only a scrypt hash of the token is stored.
admin_credentials = Table(
    "admin_credentials",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("token_hash", String(255), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

# The Marketplace app the server installs (`/oauth/start`): its client secret is ciphertext.
oauth_apps = Table(
    "oauth_apps",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("client_id", String(255), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# `state` values handed out by `/oauth/start` (as SHA-256 hex), each usable once until expiry.
oauth_states = Table(
    "oauth_states",
    metadata,
    Column("state_hash", String(64), primary_key=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("expires_at", UTCDateTime, nullable=False),
)

# Where the app is installed: one row per (app, location or company), from GHL's INSTALL
# webhook, the OAuth callback, or an agency's installed-locations list.
installations = Table(
    "installations",
    metadata,
    Column("app_id", String(64), primary_key=True),
    Column("account_id", String(64), primary_key=True),
    Column("install_type", String(16), nullable=False),
    Column("company_id", String(64), nullable=True),
    Column("location_id", String(64), nullable=True),
    Column("connection", String(64), nullable=True),
    Column("source", String(16), nullable=False),
    Column("installed_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    CheckConstraint("install_type IN ('Location', 'Company')", name="install_type"),
)

# The HMAC secret that signs a flow's generic inbound hook (`POST /hooks/{flow}`).
hook_secrets = Table(
    "hook_secrets",
    metadata,
    Column("flow", String(128), primary_key=True),
    Column("secret_ciphertext", LargeBinary, nullable=False),
    Column("key_id", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
)

# A flow switched on or off through the API; it overrides the recipe's `enabled`.
flow_switches = Table(
    "flow_switches",
    metadata,
    Column("flow", String(128), primary_key=True),
    Column("enabled", Boolean, nullable=False),
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
    EncryptedColumn(oauth_apps, "secret_ciphertext", "key_id"),
    EncryptedColumn(hook_secrets, "secret_ciphertext", "key_id"),
)


def utcnow() -> datetime:
    """Return the current time as an aware UTC datetime (the only kind the store writes)."""
    return datetime.now(UTC)
