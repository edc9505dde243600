"""The vault: encryption round trips, key files, env keys, rotation and crash safety."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from ghlbridge.store.connections import ConnectionStore
from ghlbridge.store.db import begin_write, create_engine, migrate
from ghlbridge.store.schema import connections, oauth_tokens, utcnow
from ghlbridge.store.tokens import SQLTokenStore, TokenSet
from ghlbridge.store.vault import (
    DecryptionError,
    KeyFileError,
    RotationError,
    Vault,
    generate_key,
    key_id_of,
)

from .conftest import subprocess_env


def _env(home: Path, key: str | None = None) -> dict[str, str]:
    env = {"GHLBRIDGE_HOME": str(home)}
    if key is not None:
        env["GHLBRIDGE_SECRET_KEY"] = key
    return env


def test_round_trip_bytes_and_json(vault: Vault) -> None:
    token = vault.encrypt(b"hello")
    assert token != b"hello"
    assert vault.decrypt(token) == b"hello"
    ciphertext, key_id = vault.encrypt_json({"token": "pit-123", "n": [1, 2]})
    assert key_id == vault.key_id
    assert vault.decrypt_json(ciphertext, key_id) == {"token": "pit-123", "n": [1, 2]}


def test_key_id_is_short_and_stable_and_not_the_key() -> None:
    key = generate_key()
    assert key_id_of(key) == key_id_of(key.encode()) == Vault([key]).key_id
    assert len(key_id_of(key)) == 12
    assert key_id_of(key) not in key


def test_wrong_key_fails_clearly_naming_the_missing_key_id(vault: Vault) -> None:
    ciphertext, key_id = vault.encrypt_json({"token": "pit-wrong-key"})
    other = Vault([generate_key()])
    with pytest.raises(DecryptionError) as info:
        other.decrypt_json(ciphertext, key_id, what="the secret of connection 'main'")
    message = str(info.value)
    assert key_id in message and other.key_id in message
    assert "connection 'main'" in message
    assert "pit-wrong-key" not in message
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_tampered_ciphertext_is_reported_as_corrupt(vault: Vault) -> None:
    ciphertext = bytearray(vault.encrypt(b"data"))
    ciphertext[-5] ^= 1
    with pytest.raises(DecryptionError, match="corrupt"):
        vault.decrypt(bytes(ciphertext), vault.key_id)


def test_key_file_is_created_0600_and_reused(home: Path) -> None:
    first = Vault.from_env(_env(home))
    key_file = home / "secret.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert first.source == "file"
    second = Vault.from_env(_env(home))
    assert second.key_id == first.key_id
    assert second.decrypt(first.encrypt(b"x")) == b"x"
    assert not list(home.glob(".secret.key.*.tmp"))


def test_home_dir_is_created_0700_for_the_key_file(tmp_path: Path) -> None:
    home = tmp_path / "new-home"
    Vault.from_env(_env(home))
    assert stat.S_IMODE(home.stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_refuses_key_file_readable_by_group_or_world(home: Path, mode: int) -> None:
    Vault.from_env(_env(home))
    key_file = home / "secret.key"
    os.chmod(key_file, mode)
    with pytest.raises(KeyFileError) as info:
        Vault.from_env(_env(home))
    message = str(info.value)
    assert str(key_file) in message and "chmod 600" in message and f"{mode:04o}" in message
    assert key_file.read_text().strip() not in message


def test_malformed_key_file_error_names_file_not_content(home: Path) -> None:
    key_file = home / "secret.key"
    key_file.write_text("not-a-fernet-key\n")
    os.chmod(key_file, 0o600)
    with pytest.raises(KeyFileError) as info:
        Vault.from_env(_env(home))
    assert str(key_file) in str(info.value)
    assert "not-a-fernet-key" not in str(info.value)


def test_env_key_wins_over_key_file_and_accepts_several_keys(home: Path) -> None:
    old, new = generate_key(), generate_key()
    ciphertext = Vault([old]).encrypt(b"made with old")
    vault = Vault.from_env(_env(home, f"{new}, {old}"))
    assert vault.source == "env"
    assert vault.key_ids == (key_id_of(new), key_id_of(old))
    assert vault.decrypt(ciphertext) == b"made with old"
    assert Vault([new]).decrypt(vault.encrypt(b"y")) == b"y"  # newest key encrypts
    assert not (home / "secret.key").exists()


def test_invalid_env_key_names_the_variable_not_the_value(home: Path) -> None:
    good = generate_key()
    with pytest.raises(KeyFileError) as info:
        Vault.from_env(_env(home, f"{good},sekrit-but-bad"))
    assert "GHLBRIDGE_SECRET_KEY" in str(info.value) and "#2" in str(info.value)
    assert "sekrit-but-bad" not in str(info.value) and good not in str(info.value)


# -- rotation -----------------------------------------------------------------------------


def _fill(engine: Engine, vault: Vault) -> dict[str, object]:
    import asyncio

    store = ConnectionStore(engine, vault)
    store.add("alpha", "ghl", "pit", {"token": "pit-alpha"}, location_id="loc1")
    store.add("beta", "ghl", "oauth", {"client_id": "cid", "client_secret": "csec"})
    tokens = TokenSet("acc-1", "ref-1", 1_900_000_000.0, "contacts.readonly", "Location", "loc1")
    asyncio.run(SQLTokenStore(engine, vault).save("beta:loc1", tokens))
    return {"alpha": {"token": "pit-alpha"}, "beta:loc1": tokens}


def _check_readable(engine: Engine, vault: Vault, expected: dict[str, object]) -> None:
    import asyncio

    assert ConnectionStore(engine, vault).get("alpha").secret() == expected["alpha"]
    assert asyncio.run(SQLTokenStore(engine, vault).load("beta:loc1")) == expected["beta:loc1"]


def _key_ids_in_db(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        ids = set(conn.execute(sa.select(connections.c.key_id)).scalars())
        ids |= set(conn.execute(sa.select(oauth_tokens.c.key_id)).scalars())
    return ids


def test_rotation_reencrypts_every_ciphertext_and_old_data_stays_readable(
    home: Path, engine: Engine
) -> None:
    vault = Vault.from_env(_env(home))
    old_id = vault.key_id
    expected = _fill(engine, vault)
    result = vault.rotate_key(engine)
    assert result.rows_reencrypted == 3
    assert result.retired_key_ids == (old_id,)
    assert result.new_key is None and result.env_value is None
    assert _key_ids_in_db(engine) == {result.new_key_id}
    assert vault.key_id == result.new_key_id
    assert not (home / "secret.key.old").exists()
    assert stat.S_IMODE((home / "secret.key").stat().st_mode) == 0o600
    _check_readable(engine, vault, expected)
    fresh = Vault.from_env(_env(home))
    assert fresh.key_ids == (result.new_key_id,)
    _check_readable(engine, fresh, expected)
    # A second rotation works the same way.
    again = vault.rotate_key(engine)
    assert _key_ids_in_db(engine) == {again.new_key_id}
    _check_readable(engine, Vault.from_env(_env(home)), expected)


def test_other_vault_on_same_home_follows_a_rotation(home: Path, sqlite_engine: Engine) -> None:
    rotating, bystander = Vault.from_env(_env(home)), Vault.from_env(_env(home))
    expected = _fill(sqlite_engine, rotating)
    result = rotating.rotate_key(sqlite_engine)
    _check_readable(sqlite_engine, bystander, expected)
    assert bystander.key_id == result.new_key_id


def test_rotation_with_env_keys_returns_new_env_value_and_keeps_pending_file(
    home: Path, sqlite_engine: Engine
) -> None:
    old = generate_key()
    vault = Vault.from_env(_env(home, old))
    expected = _fill(sqlite_engine, vault)
    result = vault.rotate_key(sqlite_engine)
    assert result.new_key and result.env_value == f"{result.new_key},{old}"
    assert "GHLBRIDGE_SECRET_KEY" in result.message and "secret.key.pending" in result.message
    assert result.new_key not in repr(result)
    assert _key_ids_in_db(sqlite_engine) == {key_id_of(result.new_key)}
    pending = home / "secret.key.pending"
    assert stat.S_IMODE(pending.stat().st_mode) == 0o600
    # A process still configured with the old env value reads the data via the pending file.
    _check_readable(sqlite_engine, Vault.from_env(_env(home, old)), expected)
    # With the env updated and the pending file deleted, everything is readable too.
    pending.unlink()
    _check_readable(sqlite_engine, Vault.from_env(_env(home, result.env_value)), expected)
    _check_readable(sqlite_engine, Vault.from_env(_env(home, result.new_key)), expected)


def test_rotation_aborts_without_change_when_a_row_cannot_be_decrypted(
    home: Path, sqlite_engine: Engine
) -> None:
    vault = Vault.from_env(_env(home))
    expected = _fill(sqlite_engine, vault)
    stranger = Vault([generate_key()])
    ciphertext, key_id = stranger.encrypt_json({"token": "x"})
    now = utcnow()
    with begin_write(sqlite_engine) as conn:
        conn.execute(
            oauth_tokens.insert().values(
                key="gamma:loc", ciphertext=ciphertext, key_id=key_id, version=1, updated_at=now
            )
        )
    key_before = (home / "secret.key").read_bytes()
    with pytest.raises(RotationError) as info:
        vault.rotate_key(sqlite_engine)
    assert "gamma:loc" in str(info.value) and key_id in str(info.value)
    assert (home / "secret.key").read_bytes() == key_before
    assert not (home / "secret.key.old").exists()
    assert _key_ids_in_db(sqlite_engine) == {vault.key_id, key_id}
    _check_readable(sqlite_engine, Vault.from_env(_env(home)), expected)


def test_rotation_failing_after_key_replaced_keeps_old_key_so_data_stays_readable(
    home: Path, sqlite_engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ghlbridge.store.vault as vault_module

    vault = Vault.from_env(_env(home))
    expected = _fill(sqlite_engine, vault)
    real_write = vault_module._atomic_write

    def write_then_fail(path: Path, data: bytes) -> None:
        real_write(path, data)
        if path.name == "secret.key":
            raise OSError("disk went away after the rename")

    monkeypatch.setattr(vault_module, "_atomic_write", write_then_fail)
    with pytest.raises(OSError, match="disk went away"):
        vault.rotate_key(sqlite_engine)
    monkeypatch.undo()
    assert (home / "secret.key.old").exists()
    _check_readable(sqlite_engine, Vault.from_env(_env(home)), expected)
    result = Vault.from_env(_env(home)).rotate_key(sqlite_engine)
    assert _key_ids_in_db(sqlite_engine) == {result.new_key_id}
    assert not (home / "secret.key.old").exists()
    _check_readable(sqlite_engine, Vault.from_env(_env(home)), expected)


CRASH_SCRIPT = textwrap.dedent(
    """
    import os, sys
    import ghlbridge.store.vault as v
    from ghlbridge.store.db import create_engine

    home, url, crash_at = sys.argv[1], sys.argv[2], sys.argv[3]
    real_write, real_reencrypt = v._atomic_write, v._reencrypt
    calls = []

    def write(path, data):
        real_write(path, data)
        if crash_at == "after-key-file" and path.name == "secret.key":
            os._exit(17)  # dies before the commit

    def reencrypt(conn, old, new, new_id, skip_key_id=None):
        if crash_at == "before-sweep" and skip_key_id is not None:
            os._exit(17)  # dies after the commit, before secret.key.old is removed
        return real_reencrypt(conn, old, new, new_id, skip_key_id=skip_key_id)

    v._atomic_write, v._reencrypt = write, reencrypt
    os.environ["GHLBRIDGE_HOME"] = home
    os.environ.pop("GHLBRIDGE_SECRET_KEY", None)
    v.Vault.from_env().rotate_key(create_engine(url))
    """
)


@pytest.mark.parametrize("crash_at", ["after-key-file", "before-sweep"])
def test_process_killed_mid_rotation_leaves_every_ciphertext_readable(
    home: Path, sqlite_url: str, crash_at: str
) -> None:
    engine = create_engine(sqlite_url)
    migrate(engine)
    vault = Vault.from_env(_env(home))
    expected = _fill(engine, vault)
    proc = subprocess.run(
        [sys.executable, "-c", CRASH_SCRIPT, str(home), sqlite_url, crash_at],
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 17, proc.stderr
    assert (home / "secret.key.old").exists()
    after_crash = Vault.from_env(_env(home))
    _check_readable(engine, after_crash, expected)
    # Writing now and rotating again finishes the job.
    ConnectionStore(engine, after_crash).add("gamma", "ghl", "pit", {"token": "pit-gamma"})
    result = after_crash.rotate_key(engine)
    assert _key_ids_in_db(engine) == {result.new_key_id}
    assert not (home / "secret.key.old").exists()
    final = Vault.from_env(_env(home))
    _check_readable(engine, final, expected)
    assert ConnectionStore(engine, final).get("gamma").secret() == {"token": "pit-gamma"}
    engine.dispose()
