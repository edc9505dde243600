"""flows: events, runs, step attempts, checkpoints, dedupe keys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "flow_events",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("type", sa.String(128), nullable=True),
        sa.Column("flow", sa.String(128), nullable=True),
        sa.Column("location_id", sa.String(64), nullable=True),
        sa.Column("dedupe_key", sa.String(255), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("runs_created", sa.Integer(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_flow_events_dedupe_key")),
    )
    op.create_index("ix_flow_events_received_at", "flow_events", ["received_at"])
    op.create_table(
        "flow_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("flow", sa.String(128), nullable=False),
        sa.Column("event_id", sa.String(36), nullable=False),
        sa.Column("location_id", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flow_runs")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["flow_events.id"], name=op.f("fk_flow_runs_event_id_flow_events")
        ),
        sa.UniqueConstraint("flow", "event_id", "location_id", name="uq_flow_runs_flow_event"),
        sa.CheckConstraint(
            "status IN ('pending', 'running', 'retrying', 'succeeded', 'failed', 'dead')",
            name=op.f("ck_flow_runs_status"),
        ),
    )
    op.create_index("ix_flow_runs_status_next", "flow_runs", ["status", "next_attempt_at"])
    op.create_index("ix_flow_runs_flow_created", "flow_runs", ["flow", "created_at"])
    op.create_table(
        "step_attempts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("step_id", sa.String(64), nullable=False),
        sa.Column("item_index", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("action", sa.String(160), nullable=False),
        sa.Column("idempotent", sa.Boolean(), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_step_attempts")),
        sa.ForeignKeyConstraint(
            ["run_id"], ["flow_runs.id"], name=op.f("fk_step_attempts_run_id_flow_runs")
        ),
        sa.UniqueConstraint(
            "run_id", "step_id", "item_index", "attempt", name="uq_step_attempts_run_step"
        ),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'failed', 'skipped', 'unknown')",
            name=op.f("ck_step_attempts_status"),
        ),
    )
    op.create_table(
        "flow_checkpoints",
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_flow_checkpoints")),
    )
    op.create_table(
        "flow_dedupe",
        sa.Column("scope", sa.String(128), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("value", sa.String(128), nullable=True),
        sa.Column("event_id", sa.String(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_flow_dedupe")),
    )


def downgrade() -> None:
    op.drop_table("flow_dedupe")
    op.drop_table("flow_checkpoints")
    op.drop_table("step_attempts")
    op.drop_index("ix_flow_runs_flow_created", table_name="flow_runs")
    op.drop_index("ix_flow_runs_status_next", table_name="flow_runs")
    op.drop_table("flow_runs")
    op.drop_index("ix_flow_events_received_at", table_name="flow_events")
    op.drop_table("flow_events")
