"""connections: auth type 'static' for other apps' keys (ClickBank, HTTP apps)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint(op.f("ck_connections_auth_type"), type_="check")
        batch.create_check_constraint("auth_type", "auth_type IN ('pit', 'oauth', 'static')")


def downgrade() -> None:
    with op.batch_alter_table("connections") as batch:
        batch.drop_constraint(op.f("ck_connections_auth_type"), type_="check")
        batch.create_check_constraint("auth_type", "auth_type IN ('pit', 'oauth')")
