"""Connections: CRUD on both databases, validation, and secrets that never leak."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from ghlbridge.store.connections import (
    ConnectionExistsError,
    ConnectionNotFoundError,
    ConnectionStore,
)
from ghlbridge.store.db import create_engine, migrate
from ghlbridge.store.tokens import SQLTokenStore, TokenSet
from ghlbridge.store.vault import DecryptionError, Vault, generate_key


def test_add_get_list_remove_round_trip(engine: Engine, vault: Vault) -> None:
    store = ConnectionStore(engine, vault)
    added = store.add(
        "main",
        "ghl",
        "pit",
        {"token": "pit-abc"},
        location_id="loc123",
        scopes=["contacts.readonly", "contacts.write"],
    )
    store.add("agency", "ghl", "oauth", {"client_id": "c", "client_secret": "s"}, company_id="co1")
    got = store.get("main")
    assert got == added
    assert (got.provider, got.auth_type, got.location_id, got.company_id) == (
        "ghl",
        "pit",
        "loc123",
        None,
    )
    assert got.scopes == ("contacts.readonly", "contacts.write")
    assert got.key_id == vault.key_id
    assert got.created_at.tzinfo is not None and got.created_at == got.updated_at
    assert got.secret() == {"token": "pit-abc"}
    assert [c.name for c in store.list()] == ["agency", "main"]
    store.remove("main")
    assert [c.name for c in store.list()] == ["agency"]
    with pytest.raises(ConnectionNotFoundError):
        store.get("main")


def test_replace_secret_keeps_the_connection(sqlite_engine: Engine, vault: Vault) -> None:
    store = ConnectionStore(sqlite_engine, vault)
    store.add("main", "ghl", "pit", {"token": "old"})
    updated = store.replace_secret("main", {"token": "new"})
    assert updated.secret() == {"token": "new"}
    assert updated.updated_at >= updated.created_at
    with pytest.raises(ConnectionNotFoundError):
        store.replace_secret("nope", {"token": "x"})


@pytest.mark.parametrize("name", ["", "Main", "has space", "x" * 65, "a/b", "é"])
def test_invalid_name_is_rejected_naming_the_field(
    sqlite_engine: Engine, vault: Vault, name: str
) -> None:
    with pytest.raises(ValueError, match=r"^name: "):
        ConnectionStore(sqlite_engine, vault).add(name, "ghl", "pit", {"token": "t"})


def test_invalid_fields_are_rejected_naming_the_field(sqlite_engine: Engine, vault: Vault) -> None:
    store = ConnectionStore(sqlite_engine, vault)
    with pytest.raises(ValueError, match=r"^auth_type: "):
        store.add("a", "ghl", "basic", {"token": "t"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"^provider: "):
        store.add("a", "GHL!", "pit", {"token": "t"})
    with pytest.raises(ValueError, match=r"^location_id: "):
        store.add("a", "ghl", "pit", {"token": "t"}, location_id="bad id")
    with pytest.raises(ValueError, match=r"^scopes: "):
        store.add("a", "ghl", "pit", {"token": "t"}, scopes=["ok", ""])
    with pytest.raises(ValueError, match=r"^secret: expected a dict, got str$"):
        store.add("a", "ghl", "pit", "pit-as-a-string")  # type: ignore[arg-type]
    assert store.list() == []


def test_duplicate_name_raises_connection_exists(engine: Engine, vault: Vault) -> None:
    store = ConnectionStore(engine, vault)
    store.add("main", "ghl", "pit", {"token": "first"})
    with pytest.raises(ConnectionExistsError, match="'main' already exists") as info:
        store.add("main", "ghl", "pit", {"token": "second-secret"})
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_remove_absent_raises_key_error_with_clear_message(
    sqlite_engine: Engine, vault: Vault
) -> None:
    with pytest.raises(KeyError) as info:
        ConnectionStore(sqlite_engine, vault).remove("ghost")
    assert isinstance(info.value, ConnectionNotFoundError)
    assert str(info.value) == "no connection named 'ghost'"


def test_remove_deletes_only_that_connections_tokens(engine: Engine, vault: Vault) -> None:
    store, tokens = ConnectionStore(engine, vault), SQLTokenStore(engine, vault)
    store.add("a_b", "ghl", "oauth", {"client_id": "c"})
    store.add("axb", "ghl", "oauth", {"client_id": "c"})

    async def scenario() -> None:
        await tokens.save("a_b:loc1", TokenSet("t1"))
        await tokens.save("axb:loc1", TokenSet("t2"))
        store.remove("a_b")
        assert await tokens.load("a_b:loc1") is None
        assert await tokens.load("axb:loc1") == TokenSet("t2")

    asyncio.run(scenario())


PLANTED = "sk-PLANTED-7f3a9c-do-not-leak"


def test_planted_secret_never_appears_in_db_file_repr_str_or_errors(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'leak.db'}"
    engine = create_engine(url)
    migrate(engine)
    vault = Vault([generate_key()])
    store, tokens = ConnectionStore(engine, vault), SQLTokenStore(engine, vault)
    conn = store.add("main", "ghl", "pit", {"token": PLANTED}, location_id="loc1")
    token_set = TokenSet(PLANTED + "-access", PLANTED + "-refresh", 1.0, "s", "Location", "loc1")
    asyncio.run(tokens.save("main:loc1", token_set))
    texts = [repr(conn), str(conn), repr(store.get("main")), repr(store.list())]
    texts += [repr(token_set), str(token_set), repr(asyncio.run(tokens.load("main:loc1")))]
    texts += [repr(vault)]
    errors: list[BaseException] = []
    for attempt in (
        lambda: store.add("main", "ghl", "pit", {"token": PLANTED}),
        lambda: store.add("Bad Name", "ghl", "pit", {"token": PLANTED}),
        lambda: store.add("x", "ghl", "pit", PLANTED),  # type: ignore[arg-type]
        lambda: store.add("y", "ghl", "pit", {"token": {PLANTED}}),
        lambda: ConnectionStore(engine, Vault([generate_key()])).get("main").secret(),
        lambda: asyncio.run(SQLTokenStore(engine, Vault([generate_key()])).load("main:loc1")),
    ):
        with pytest.raises(Exception) as info:  # each raises a different type
            attempt()
        errors.append(info.value)
    assert isinstance(errors[-1], DecryptionError)
    for error in errors:
        chain: BaseException | None = error
        while chain is not None:
            texts += [str(chain), repr(chain)]
            chain = chain.__cause__ or chain.__context__
    for text in texts:
        assert PLANTED not in text
    assert conn.secret() == {"token": PLANTED}  # it is there, just never shown
    engine.dispose()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("leak.db"))
    assert b"main" in raw  # the file really holds the data we wrote
    assert PLANTED.encode() not in raw
