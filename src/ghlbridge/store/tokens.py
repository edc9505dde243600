"""OAuth token storage with a lock that makes one process at a time refresh a token pair.

``TokenStore`` is the protocol the client's OAuth code uses: under ``locked(key)`` it loads
the stored pair, refreshes it if still needed, and saves the new pair before using it, so
N processes (or coroutines) that find the same token expired cause one refresh.

- ``SQLTokenStore``: the tokens encrypted in the ``oauth_tokens`` table; the lock spans
  processes (PostgreSQL advisory lock, or an ``flock`` file beside a SQLite database).
- ``MemoryTokenStore``: in-process only, for tests of other parts.

Keys are ``"<connection name>:<location or company id>"`` (see :func:`token_key`).
Exceptions: ``TokenLockTimeout`` (a ``TimeoutError``); decryption errors come from the vault.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import random
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol, TypeVar, runtime_checkable

from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from ghlbridge.store.db import ADVISORY_LOCK_NAMESPACE, begin_write, sqlite_path
from ghlbridge.store.schema import oauth_tokens, utcnow
from ghlbridge.store.vault import Vault

T = TypeVar("T")
UserType = Literal["Location", "Company"]
USER_TYPES: tuple[UserType, ...] = ("Location", "Company")
MAX_KEY_LENGTH = 255


class TokenLockTimeout(TimeoutError):
    """The token lock was not acquired within the store's ``lock_timeout``."""


def token_key(connection: str, account_id: str) -> str:
    """The store key of a connection's tokens for one location or company."""
    return f"{connection}:{account_id}"


@dataclass(frozen=True)
class TokenSet:
    """An OAuth access/refresh token pair and what it grants; repr never shows the tokens."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    scope: str = ""
    user_type: UserType = "Location"
    location_id: str | None = None
    company_id: str | None = None

    def __repr__(self) -> str:
        refresh = "None" if self.refresh_token is None else "'***'"
        return (
            f"TokenSet(access_token='***', refresh_token={refresh}, "
            f"expires_at={self.expires_at!r}, scope={self.scope!r}, "
            f"user_type={self.user_type!r}, location_id={self.location_id!r}, "
            f"company_id={self.company_id!r})"
        )

    def expires_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether the access token expires within ``seconds`` (False if no expiry known)."""
        if self.expires_at is None:
            return False
        return self.expires_at - (time.time() if now is None else now) <= seconds

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenSet:
        """Rebuild from :meth:`to_dict` output; ``ValueError`` names a bad field, not its value."""
        if not isinstance(data, dict):
            raise ValueError(f"token set: expected an object, got {type(data).__name__}")
        access = data.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("token set: access_token must be a non-empty string")
        refresh = data.get("refresh_token")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("token set: refresh_token must be a string or null")
        expires = data.get("expires_at")
        if expires is not None and not isinstance(expires, int | float):
            raise ValueError("token set: expires_at must be a number or null")
        user_type = data.get("user_type", "Location")
        if user_type not in USER_TYPES:
            raise ValueError(f"token set: user_type {user_type!r} is not Location or Company")
        scope = data.get("scope") or ""
        for name in ("location_id", "company_id"):
            if data.get(name) is not None and not isinstance(data.get(name), str):
                raise ValueError(f"token set: {name} must be a string or null")
        return cls(
            access_token=access,
            refresh_token=refresh,
            expires_at=None if expires is None else float(expires),
            scope=str(scope),
            user_type=user_type,
            location_id=data.get("location_id"),
            company_id=data.get("company_id"),
        )


@runtime_checkable
class TokenStore(Protocol):
    """Where OAuth token pairs live, with a per-key exclusive lock for refreshing them."""

    async def load(self, key: str) -> TokenSet | None:
        """The stored tokens for ``key``, or ``None``."""
        ...

    async def save(self, key: str, tokens: TokenSet) -> None:
        """Store ``tokens`` for ``key`` atomically (all or nothing)."""
        ...

    def locked(self, key: str) -> AbstractAsyncContextManager[None]:
        """Hold the exclusive lock for ``key`` (across processes where the store is shared)."""
        ...


def _check_key(key: str) -> None:
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise ValueError(f"token key must be a non-empty string of at most {MAX_KEY_LENGTH} chars")


@dataclass
class _LocalLock:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


class _LocalLocks:
    """One ``asyncio.Lock`` per (event loop, key); entries vanish when nobody uses them."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, _LocalLock]
        ] = weakref.WeakKeyDictionary()

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with self._guard:
            table = self._by_loop.setdefault(loop, {})
            entry = table.get(key)
            if entry is None:
                entry = table[key] = _LocalLock()
            entry.users += 1
        try:
            async with entry.lock:
                yield
        finally:
            with self._guard:
                entry.users -= 1
                if entry.users == 0:
                    table.pop(key, None)


class MemoryTokenStore:
    """An in-process ``TokenStore`` (a dict and asyncio locks), for tests of other parts."""

    def __init__(self) -> None:
        self._tokens: dict[str, TokenSet] = {}
        self._locks = _LocalLocks()

    async def load(self, key: str) -> TokenSet | None:
        _check_key(key)
        return self._tokens.get(key)

    async def save(self, key: str, tokens: TokenSet) -> None:
        _check_key(key)
        self._tokens[key] = tokens

    async def delete(self, key: str) -> bool:
        """Forget the tokens for ``key``; True if there were any."""
        return self._tokens.pop(key, None) is not None

    def locked(self, key: str) -> AbstractAsyncContextManager[None]:
        _check_key(key)
        return self._locks.hold(key)


class SQLTokenStore:
    """A ``TokenStore`` on the ``oauth_tokens`` table, encrypted with the vault.

    Database calls run in a worker thread so the event loop keeps serving. ``locked``
    first queues coroutines of this process on an ``asyncio.Lock``, then takes the
    cross-process lock, polling with backoff so that cancelling a waiter is always safe.
    """

    def __init__(self, engine: Engine, vault: Vault, *, lock_timeout: float | None = 120.0) -> None:
        self._engine = engine
        self._vault = vault
        self._lock_timeout = lock_timeout
        self._local = _LocalLocks()
        db_file = sqlite_path(engine)
        self._lock_dir = None if db_file is None else db_file.with_name(db_file.name + ".locks")
        self._thread_locks: dict[str, threading.Lock] = {}
        self._thread_locks_guard = threading.Lock()

    # -- data ----------------------------------------------------------------------------

    async def load(self, key: str) -> TokenSet | None:
        _check_key(key)
        return await asyncio.to_thread(self._load_sync, key)

    async def save(self, key: str, tokens: TokenSet) -> None:
        _check_key(key)
        if not isinstance(tokens, TokenSet):
            raise TypeError(f"tokens: expected a TokenSet, got {type(tokens).__name__}")
        await asyncio.to_thread(self._save_sync, key, tokens)

    async def delete(self, key: str) -> bool:
        """Forget the tokens for ``key`` (e.g. on an app UNINSTALL); True if there were any."""
        _check_key(key)
        return await asyncio.to_thread(self._delete_sync, key)

    def _load_sync(self, key: str) -> TokenSet | None:
        with self._engine.connect() as conn:
            row = conn.execute(
                select(oauth_tokens.c.ciphertext, oauth_tokens.c.key_id).where(
                    oauth_tokens.c.key == key
                )
            ).first()
        if row is None:
            return None
        data = self._vault.decrypt_json(
            bytes(row.ciphertext), row.key_id, what=f"the OAuth tokens of {key!r}"
        )
        return TokenSet.from_dict(data)

    def _save_sync(self, key: str, tokens: TokenSet) -> None:
        ciphertext, key_id = self._vault.encrypt_json(tokens.to_dict())
        expires = (
            None if tokens.expires_at is None else datetime.fromtimestamp(tokens.expires_at, UTC)
        )
        values = {
            "ciphertext": ciphertext,
            "key_id": key_id,
            "expires_at": expires,
            "updated_at": utcnow(),
        }
        with begin_write(self._engine) as conn:
            _upsert(conn, key, values)

    def _delete_sync(self, key: str) -> bool:
        with begin_write(self._engine) as conn:
            result = conn.execute(delete(oauth_tokens).where(oauth_tokens.c.key == key))
        return result.rowcount > 0

    # -- locking -------------------------------------------------------------------------

    def locked(self, key: str) -> AbstractAsyncContextManager[None]:
        _check_key(key)
        return self._locked(key)

    @asynccontextmanager
    async def _locked(self, key: str) -> AsyncIterator[None]:
        async with self._local.hold(key):
            if self._engine.dialect.name == "postgresql":
                async with self._pg_lock(key):
                    yield
            elif self._lock_dir is not None:
                with self._file_lock_fd(key) as fd:
                    await self._wait_for(key, lambda: _try_flock(fd))
                    yield
            else:
                lock = self._thread_lock(key)
                await self._wait_for(key, lambda: lock.acquire(blocking=False))
                try:
                    yield
                finally:
                    lock.release()

    async def _wait_for(self, key: str, try_acquire: Callable[[], bool | Awaitable[bool]]) -> None:
        """Call ``try_acquire`` until it succeeds, sleeping with jittered backoff between."""
        start = time.monotonic()
        delay = 0.001
        while True:
            result = try_acquire()
            if not isinstance(result, bool):
                result = await result
            if result:
                return
            if self._lock_timeout is not None and time.monotonic() - start >= self._lock_timeout:
                raise TokenLockTimeout(
                    f"waited {self._lock_timeout:g}s for the token lock of {key!r}; "
                    "another process holds it"
                )
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            delay = min(delay * 2, 0.05)

    @contextlib.contextmanager
    def _file_lock_fd(self, key: str) -> Iterator[int]:
        assert self._lock_dir is not None
        self._lock_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = hashlib.sha1(key.encode("utf-8")).hexdigest() + ".lock"
        fd = os.open(self._lock_dir / name, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            yield fd
        finally:
            os.close(fd)  # closing the descriptor releases the flock

    def _thread_lock(self, key: str) -> threading.Lock:
        with self._thread_locks_guard:
            return self._thread_locks.setdefault(key, threading.Lock())

    @asynccontextmanager
    async def _pg_lock(self, key: str) -> AsyncIterator[None]:
        def connect() -> Connection:
            conn = self._engine.connect()
            # Session-level advisory locks outlive transactions; do not sit idle in one.
            conn.execution_options(isolation_level="AUTOCOMMIT")
            return conn

        conn = await _to_thread_settled(connect)
        held = False

        def try_lock() -> bool:
            nonlocal held
            held = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:ns, hashtext(:key))"),
                    {"ns": ADVISORY_LOCK_NAMESPACE, "key": key},
                ).scalar()
            )
            return held

        def release() -> None:
            try:
                if held:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:ns, hashtext(:key))"),
                        {"ns": ADVISORY_LOCK_NAMESPACE, "key": key},
                    )
            except Exception:
                # A connection we cannot unlock on must not go back to the pool holding
                # the lock: dropping it ends the session, which releases the lock.
                conn.invalidate()
            finally:
                conn.close()

        try:
            await self._wait_for(key, lambda: _to_thread_settled(try_lock))
            yield
        finally:
            await _to_thread_settled(release)


async def _to_thread_settled(fn: Callable[[], T]) -> T:
    """Run ``fn`` in a thread; if the caller is cancelled, wait for ``fn`` to end first.

    So a lock acquired by a thread whose caller was cancelled is seen (and released) by
    the caller's cleanup, and a connection is never closed while a thread still uses it.
    """
    task = asyncio.ensure_future(asyncio.to_thread(fn))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _upsert(conn: Connection, key: str, values: dict[str, Any]) -> None:
    """Insert the row for ``key`` or update it, bumping ``version``, in one statement."""
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        dialect_insert = sqlite.insert if name == "sqlite" else postgresql.insert
        stmt = dialect_insert(oauth_tokens).values(key=key, version=1, **values)
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[oauth_tokens.c.key],
                set_={**values, "version": oauth_tokens.c.version + 1},
            )
        )
        return
    result = conn.execute(
        update(oauth_tokens)
        .where(oauth_tokens.c.key == key)
        .values(version=oauth_tokens.c.version + 1, **values)
    )
    if result.rowcount == 0:
        conn.execute(insert(oauth_tokens).values(key=key, version=1, **values))


__all__ = [
    "MemoryTokenStore",
    "SQLTokenStore",
    "TokenLockTimeout",
    "TokenSet",
    "TokenStore",
    "UserType",
    "token_key",
]
