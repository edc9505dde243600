"""The admin credential of the REST API: a random bearer token, made at first start and
shown once, stored only as a scrypt hash.

``Authorization: Bearer <token>`` is checked against the stored hash. A token that matched
is remembered (by its SHA-256, in memory) together with the hash it matched, and the stored
hash is re-read every few seconds, so a rotation (``ghlbridge serve --reset-admin-token``,
maybe in another process) retires the old token everywhere within that time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable

from sqlalchemy import delete, insert, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from ghlbridge.store.db import begin_write
from ghlbridge.store.schema import admin_credentials, utcnow

TOKEN_PREFIX = "ghlb_"
ADMIN = "admin"
_N, _R, _P, _DKLEN = 2**14, 8, 1, 32
_RECHECK_SECONDS = 2.0
_MAX_CACHED = 64


def hash_token(token: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$<salt b64>$<hash b64>`` of `token`."""
    salt = salt if salt is not None else secrets.token_bytes(16)
    digest = hashlib.scrypt(token.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=_DKLEN)
    b64 = base64.b64encode
    return f"scrypt${_N}${_R}${_P}${b64(salt).decode()}${b64(digest).decode()}"


def token_matches(token: str, stored: str) -> bool:
    """Whether `token` hashes to `stored` (constant-time compare; False for a bad record)."""
    try:
        kind, n, r, p, salt_b64, hash_b64 = stored.split("$")
        if kind != "scrypt":
            return False
        salt, expected = base64.b64decode(salt_b64), base64.b64decode(hash_b64)
        digest = hashlib.scrypt(
            token.encode(), salt=salt, n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, expected)


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


class AdminCredentials:
    """Creates, rotates and checks the admin token; synchronous (scrypt is slow: call the
    checking method from a thread)."""

    def __init__(self, engine: Engine, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._engine = engine
        self._clock = clock
        self._lock = threading.Lock()
        self._stored: str | None = None
        self._stored_at = -float("inf")
        self._verified: dict[bytes, str] = {}

    def ensure(self) -> str | None:
        """Create the admin token if there is none; returns it then (to show once), else None."""
        token = new_token()
        row = {"name": ADMIN, "token_hash": hash_token(token), "created_at": utcnow()}
        try:
            with begin_write(self._engine) as conn:
                if conn.execute(
                    select(admin_credentials.c.name).where(admin_credentials.c.name == ADMIN)
                ).first():
                    return None
                conn.execute(insert(admin_credentials).values(row))
        except IntegrityError:  # another process made it first
            return None
        self._forget()
        return token

    def reset(self) -> str:
        """Replace the admin token; returns the new one (to show once)."""
        token = new_token()
        with begin_write(self._engine) as conn:
            conn.execute(delete(admin_credentials).where(admin_credentials.c.name == ADMIN))
            conn.execute(
                insert(admin_credentials).values(
                    name=ADMIN, token_hash=hash_token(token), created_at=utcnow()
                )
            )
        self._forget()
        return token

    def exists(self) -> bool:
        return self._current(force=True) is not None

    def check(self, token: str) -> bool:
        """Whether `token` is the current admin token."""
        if not token:
            return False
        stored = self._current()
        if stored is None:
            return False
        key = hashlib.sha256(token.encode()).digest()
        with self._lock:
            if self._verified.get(key) == stored:
                return True
        if not token_matches(token, stored):
            return False
        with self._lock:
            if len(self._verified) >= _MAX_CACHED:
                self._verified.clear()
            self._verified[key] = stored
        return True

    def _current(self, *, force: bool = False) -> str | None:
        now = self._clock()
        with self._lock:
            if not force and now - self._stored_at < _RECHECK_SECONDS:
                return self._stored
        with self._engine.connect() as conn:
            stored = conn.execute(
                select(admin_credentials.c.token_hash).where(admin_credentials.c.name == ADMIN)
            ).scalar()
        with self._lock:
            self._stored, self._stored_at = (str(stored) if stored else None), now
            return self._stored

    def _forget(self) -> None:
        with self._lock:
            self._verified.clear()
            self._stored_at = -float("inf")


__all__ = ["TOKEN_PREFIX", "AdminCredentials", "hash_token", "new_token", "token_matches"]
