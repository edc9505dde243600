"""Saved connections (a GHL PIT or OAuth app, or another app's credentials), encrypted at rest.

A connection's secret material is stored only as vault ciphertext and decrypted only when
:meth:`Connection.secret` is called; it never appears in a repr, a log line or an error.

Exceptions: ``ConnectionNotFoundError`` (a ``KeyError``), ``ConnectionExistsError`` (a
``ValueError``); invalid fields raise ``ValueError`` naming the field.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from sqlalchemy import delete, insert, select, update
from sqlalchemy.engine import Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from ghlbridge.store.db import begin_write
from ghlbridge.store.schema import connections, oauth_tokens, utcnow
from ghlbridge.store.vault import Vault

# pit: a GHL Private Integration Token; oauth: client credentials with tokens in oauth_tokens;
# static: other apps' keys and settings (ClickBank keys, an HTTP app's auth preset), sent as is.
AuthType = Literal["pit", "oauth", "static"]
AUTH_TYPES: tuple[AuthType, ...] = ("pit", "oauth", "static")
NAME_PATTERN = re.compile(r"[a-z0-9_-]{1,64}")
PROVIDER_PATTERN = re.compile(r"[a-z0-9_-]{1,32}")
ID_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


class ConnectionNotFoundError(KeyError):
    """No connection has the given name."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "connection not found"


class InvalidConnectionError(ValueError):
    """A connection field (name, provider, auth type, id, scope, secret) is malformed."""


class ConnectionExistsError(ValueError):
    """A connection with the given name already exists."""


@dataclass(frozen=True)
class Connection:
    """A stored connection; call :meth:`secret` to decrypt its credentials."""

    id: str
    name: str
    provider: str
    auth_type: AuthType
    location_id: str | None
    company_id: str | None
    scopes: tuple[str, ...]
    key_id: str
    created_at: datetime
    updated_at: datetime
    _ciphertext: bytes = field(repr=False, compare=False)
    _vault: Vault = field(repr=False, compare=False)

    def secret(self) -> dict[str, Any]:
        """Decrypt and return the secret material (e.g. ``{"token": ...}``)."""
        value = self._vault.decrypt_json(
            self._ciphertext, self.key_id, what=f"the secret of connection {self.name!r}"
        )
        return cast(dict[str, Any], value)


class ConnectionStore:
    """Create, read, list and remove connections in the database."""

    def __init__(self, engine: Engine, vault: Vault) -> None:
        self._engine = engine
        self._vault = vault

    @property
    def engine(self) -> Engine:
        """The database the connections live in (tokens share it)."""
        return self._engine

    def add(
        self,
        name: str,
        provider: str,
        auth_type: AuthType,
        secret: dict[str, Any],
        location_id: str | None = None,
        company_id: str | None = None,
        scopes: Sequence[str] = (),
    ) -> Connection:
        """Store a new connection; raise ``ConnectionExistsError`` if ``name`` is taken."""
        _validate(name=name, provider=provider, auth_type=auth_type)
        _validate_secret(secret)
        _validate_id("location_id", location_id)
        _validate_id("company_id", company_id)
        scope_list = _validate_scopes(scopes)
        ciphertext, key_id = self._vault.encrypt_json(secret)
        now = utcnow()
        row = {
            "id": str(uuid.uuid4()),
            "name": name,
            "provider": provider,
            "auth_type": auth_type,
            "location_id": location_id,
            "company_id": company_id,
            "scopes": scope_list,
            "secret_ciphertext": ciphertext,
            "key_id": key_id,
            "created_at": now,
            "updated_at": now,
        }
        try:
            with begin_write(self._engine) as conn:
                conn.execute(insert(connections).values(row))
        except IntegrityError:
            # The driver's message echoes the statement's parameters: do not chain it.
            if self._exists(name):
                raise ConnectionExistsError(f"connection {name!r} already exists") from None
            raise ValueError(f"connection {name!r} violates a database constraint") from None
        return self._to_connection(row)

    def get(self, name: str) -> Connection:
        """Return the connection called ``name``; raise ``ConnectionNotFoundError`` if none."""
        with self._engine.connect() as conn:
            row = conn.execute(select(connections).where(connections.c.name == name)).first()
        if row is None:
            raise ConnectionNotFoundError(f"no connection named {name!r}")
        return self._to_connection(row._mapping)

    def list(self) -> list[Connection]:
        """All connections, sorted by name."""
        with self._engine.connect() as conn:
            rows = conn.execute(select(connections).order_by(connections.c.name)).all()
        return [self._to_connection(r._mapping) for r in rows]

    def replace_secret(self, name: str, secret: dict[str, Any]) -> Connection:
        """Replace the secret material of an existing connection (e.g. a new PIT)."""
        _validate_secret(secret)
        ciphertext, key_id = self._vault.encrypt_json(secret)
        with begin_write(self._engine) as conn:
            result = conn.execute(
                update(connections)
                .where(connections.c.name == name)
                .values(secret_ciphertext=ciphertext, key_id=key_id, updated_at=utcnow())
            )
        if result.rowcount == 0:
            raise ConnectionNotFoundError(f"no connection named {name!r}")
        return self.get(name)

    def remove(self, name: str) -> None:
        """Delete the connection and its OAuth tokens; ``ConnectionNotFoundError`` if absent."""
        with begin_write(self._engine) as conn:
            result = conn.execute(delete(connections).where(connections.c.name == name))
            if result.rowcount == 0:
                raise ConnectionNotFoundError(f"no connection named {name!r}")
            conn.execute(
                delete(oauth_tokens).where(
                    oauth_tokens.c.key.startswith(f"{name}:", autoescape=True)
                )
            )

    def _exists(self, name: str) -> bool:
        with self._engine.connect() as conn:
            found = conn.execute(select(connections.c.id).where(connections.c.name == name)).first()
        return found is not None

    def _to_connection(self, row: RowMapping | dict[str, Any]) -> Connection:
        return Connection(
            id=row["id"],
            name=row["name"],
            provider=row["provider"],
            auth_type=row["auth_type"],
            location_id=row["location_id"],
            company_id=row["company_id"],
            scopes=tuple(row["scopes"] or ()),
            key_id=row["key_id"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            _ciphertext=bytes(row["secret_ciphertext"]),
            _vault=self._vault,
        )


def _validate(
    *,
    name: str | None = None,
    provider: str | None = None,
    auth_type: str | None = None,
) -> None:
    if name is not None and not (isinstance(name, str) and NAME_PATTERN.fullmatch(name)):
        raise InvalidConnectionError(
            f"name: {name!r} is not a valid connection name "
            "(1-64 characters of a-z, 0-9, '_' and '-')"
        )
    if provider is not None and not (
        isinstance(provider, str) and PROVIDER_PATTERN.fullmatch(provider)
    ):
        raise InvalidConnectionError(
            f"provider: {provider!r} is not a valid provider (1-32 characters of a-z, 0-9, _, -)"
        )
    if auth_type is not None and auth_type not in AUTH_TYPES:
        raise InvalidConnectionError(
            f"auth_type: {auth_type!r} is not one of {', '.join(AUTH_TYPES)}"
        )


def _validate_secret(secret: Any) -> None:
    if not isinstance(secret, dict):
        # Name the type only: the value may be the secret itself.
        raise InvalidConnectionError(f"secret: expected a dict, got {type(secret).__name__}")


def _validate_id(field_name: str, value: str | None) -> None:
    if value is not None and not (isinstance(value, str) and ID_PATTERN.fullmatch(value)):
        raise InvalidConnectionError(
            f"{field_name}: {value!r} is not a valid id (1-64 characters of letters, digits, _.:-)"
        )


def _validate_scopes(scopes: Sequence[str]) -> list[str]:
    if isinstance(scopes, str):
        scopes = scopes.split()
    out: list[str] = []
    for scope in scopes:
        if not isinstance(scope, str) or not scope or any(ch.isspace() for ch in scope):
            raise InvalidConnectionError(f"scopes: {scope!r} is not a valid scope name")
        if scope not in out:
            out.append(scope)
    return out
