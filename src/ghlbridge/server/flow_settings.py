"""Per-flow settings the server keeps beside the recipes: on/off switches set through the
API (they override a recipe's `enabled`) and the HMAC secrets of inbound hooks (encrypted)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.engine import Engine

from ghlbridge.store.db import begin_write, upsert
from ghlbridge.store.schema import flow_switches, hook_secrets, utcnow
from ghlbridge.store.vault import Vault

MIN_SECRET_LENGTH = 16


class FlowSwitches:
    """Which flows were switched on or off through the API."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def all(self) -> dict[str, bool]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(flow_switches.c.flow, flow_switches.c.enabled)).all()
        return {str(flow): bool(enabled) for flow, enabled in rows}

    def set(self, flow: str, enabled: bool) -> None:
        row = {"flow": flow, "enabled": enabled, "updated_at": utcnow()}
        with begin_write(self._engine) as conn:
            upsert(conn, flow_switches, row, ["flow"])


class HookSecrets:
    """The HMAC secret of each flow's inbound hook, encrypted with the vault."""

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self._engine = engine
        self._vault = vault

    def get(self, flow: str) -> str | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(hook_secrets.c.secret_ciphertext, hook_secrets.c.key_id).where(
                    hook_secrets.c.flow == flow
                )
            ).first()
        if row is None:
            return None
        value = self._vault.decrypt_json(
            bytes(row[0]), str(row[1]), what=f"the hook secret of flow {flow!r}"
        )
        return str(value)

    def flows(self) -> set[str]:
        """The flows that have a hook secret."""
        with self._engine.connect() as conn:
            return {str(f) for f in conn.execute(select(hook_secrets.c.flow)).scalars()}

    def put(self, flow: str, secret: str) -> None:
        if len(secret) < MIN_SECRET_LENGTH:
            raise ValueError(f"secret: must be at least {MIN_SECRET_LENGTH} characters")
        ciphertext, key_id = self._vault.encrypt_json(secret)
        row = {"flow": flow, "secret_ciphertext": ciphertext, "key_id": key_id}
        with begin_write(self._engine) as conn:
            upsert(conn, hook_secrets, {**row, "updated_at": utcnow()}, ["flow"])

    def delete(self, flow: str) -> bool:
        with begin_write(self._engine) as conn:
            return bool(
                conn.execute(delete(hook_secrets).where(hook_secrets.c.flow == flow)).rowcount
            )

    def all_secrets(self) -> list[str]:
        """Every hook secret in clear (to teach the log redactor)."""
        return [s for f in sorted(self.flows()) if (s := self.get(f))]


__all__ = ["MIN_SECRET_LENGTH", "FlowSwitches", "HookSecrets"]
