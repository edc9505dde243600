"""Token sets and token stores: round trips, redaction, and the cross-process refresh lock."""

from __future__ import annotations

import asyncio
import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ghlbridge.store.db import create_engine, migrate
from ghlbridge.store.schema import oauth_tokens
from ghlbridge.store.tokens import (
    MemoryTokenStore,
    SQLTokenStore,
    TokenLockTimeout,
    TokenSet,
    TokenStore,
    token_key,
)
from ghlbridge.store.vault import Vault, generate_key

from .conftest import subprocess_env

TOKENS = TokenSet(
    access_token="acc-secret",
    refresh_token="ref-secret",
    expires_at=1_900_000_000.5,
    scope="contacts.readonly locations.readonly",
    user_type="Company",
    location_id=None,
    company_id="co1",
)


def test_token_set_repr_redacts_tokens() -> None:
    text = repr(TOKENS) + str(TOKENS)
    assert "acc-secret" not in text and "ref-secret" not in text
    assert "co1" in text and "access_token='***'" in text
    assert "refresh_token=None" in repr(TokenSet("a"))


def test_token_set_dict_round_trip_and_validation() -> None:
    assert TokenSet.from_dict(TOKENS.to_dict()) == TOKENS
    with pytest.raises(ValueError, match="user_type"):
        TokenSet.from_dict({**TOKENS.to_dict(), "user_type": "Agency"})
    with pytest.raises(ValueError, match="access_token") as info:
        TokenSet.from_dict({"access_token": 5})
    assert "5" not in str(info.value).replace("255", "")


def test_expires_within() -> None:
    assert TokenSet("a", expires_at=100.0).expires_within(60, now=50.0)
    assert not TokenSet("a", expires_at=100.0).expires_within(10, now=50.0)
    assert not TokenSet("a").expires_within(10**9)


def test_token_key_joins_connection_and_account() -> None:
    assert token_key("main", "loc1") == "main:loc1"


def test_both_stores_satisfy_the_protocol(sqlite_engine: Engine, vault: Vault) -> None:
    assert isinstance(MemoryTokenStore(), TokenStore)
    assert isinstance(SQLTokenStore(sqlite_engine, vault), TokenStore)


async def test_sql_store_save_load_round_trip_and_version(engine: Engine, vault: Vault) -> None:
    store = SQLTokenStore(engine, vault)
    assert await store.load("main:co1") is None
    await store.save("main:co1", TOKENS)
    assert await store.load("main:co1") == TOKENS
    newer = TokenSet("acc-2", "ref-2", 1_900_003_600.0, "s", "Location", "loc1", "co1")
    await store.save("main:co1", newer)
    assert await store.load("main:co1") == newer
    with engine.connect() as conn:
        row = conn.execute(sa.select(oauth_tokens).where(oauth_tokens.c.key == "main:co1")).one()
    assert row.version == 2 and row.key_id == vault.key_id
    assert row.expires_at.timestamp() == 1_900_003_600.0
    assert b"acc-2" not in bytes(row.ciphertext)
    assert await store.delete("main:co1") is True
    assert await store.load("main:co1") is None
    assert await store.delete("main:co1") is False


async def test_memory_store_round_trip() -> None:
    store = MemoryTokenStore()
    assert await store.load("k") is None
    await store.save("k", TOKENS)
    assert await store.load("k") == TOKENS


async def test_invalid_key_is_rejected(sqlite_engine: Engine, vault: Vault) -> None:
    with pytest.raises(ValueError, match="token key"):
        await SQLTokenStore(sqlite_engine, vault).load("")
    with pytest.raises(ValueError, match="token key"):
        MemoryTokenStore().locked("x" * 300)


async def _assert_coroutines_take_turns(store: TokenStore, key: str) -> None:
    inside: list[int] = []
    peak = 0

    async def worker(n: int) -> None:
        nonlocal peak
        async with store.locked(key):
            inside.append(n)
            peak = max(peak, len(inside))
            await asyncio.sleep(0.002)
            inside.remove(n)

    async def other_key() -> None:
        async with store.locked(key + "-other"):
            await asyncio.sleep(0)

    await asyncio.gather(*(worker(n) for n in range(10)), other_key())
    assert peak == 1


async def test_coroutines_take_turns_on_sql_store(engine: Engine, vault: Vault) -> None:
    await _assert_coroutines_take_turns(SQLTokenStore(engine, vault), "main:loc1")


async def test_coroutines_take_turns_on_memory_store() -> None:
    await _assert_coroutines_take_turns(MemoryTokenStore(), "main:loc1")


async def test_coroutines_take_turns_on_in_memory_sqlite(vault: Vault) -> None:
    engine = create_engine("sqlite://")
    migrate(engine)
    await _assert_coroutines_take_turns(SQLTokenStore(engine, vault), "main:loc1")


async def test_two_stores_on_one_database_exclude_each_other(engine: Engine, vault: Vault) -> None:
    first = SQLTokenStore(engine, vault)
    second = SQLTokenStore(engine, vault, lock_timeout=0.1)
    async with first.locked("k"):
        with pytest.raises(TokenLockTimeout, match="'k'"):
            async with second.locked("k"):
                pass
        async with second.locked("other-key"):
            pass
    async with second.locked("k"):
        pass


async def test_cancelled_waiter_does_not_keep_the_lock(engine: Engine, vault: Vault) -> None:
    holder, waiter = SQLTokenStore(engine, vault), SQLTokenStore(engine, vault)
    entered = asyncio.Event()

    async def wait_for_lock() -> None:
        async with waiter.locked("k"):
            entered.set()

    async with holder.locked("k"):
        task = asyncio.create_task(wait_for_lock())
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert not entered.is_set()
    async with asyncio.timeout(5):
        async with waiter.locked("k"):
            pass
        async with holder.locked("k"):
            pass


def test_processes_never_overlap_inside_locked(db_url: str, tmp_path: Path) -> None:
    engine = create_engine(db_url)
    migrate(engine)
    engine.dispose()
    key, iterations, hold, workers = "main:loc1", 6, 0.02, 2
    worker = str(Path(__file__).with_name("lock_worker.py"))
    out, go = tmp_path / "records.txt", tmp_path / "go"
    env = subprocess_env(GHLB_TEST_KEY=generate_key())
    procs, ready_files = [], []
    for n in range(workers):
        ready = tmp_path / f"ready{n}"
        ready_files.append(ready)
        args = [db_url, key, str(out), str(ready), str(go), str(iterations), str(hold)]
        procs.append(
            subprocess.Popen(
                [sys.executable, worker, *args], env=env, stderr=subprocess.PIPE, text=True
            )
        )
    deadline = time.monotonic() + 30
    while not all(r.exists() for r in ready_files):
        assert all(p.poll() is None for p in procs), [p.communicate()[1] for p in procs]
        assert time.monotonic() < deadline, "workers did not start"
        time.sleep(0.01)
    go.touch()
    for proc in procs:
        _, stderr = proc.communicate(timeout=30)
        assert proc.returncode == 0, stderr

    records = [line.split() for line in out.read_text().splitlines()]
    assert len(records) == workers * iterations
    assert len({pid for pid, _, _ in records}) == workers
    intervals = sorted((int(start), int(end)) for _, start, end in records)
    for (_, prev_end), (next_start, _) in itertools.pairwise(intervals):
        assert next_start >= prev_end, "two processes were inside locked() at once"
    # The read-modify-write counter lost no update.
    engine = create_engine(db_url)
    final = asyncio.run(SQLTokenStore(engine, Vault([env["GHLB_TEST_KEY"]])).load(key))
    engine.dispose()
    assert final is not None and final.access_token == str(workers * iterations)
