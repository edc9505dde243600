"""The admin credential: made once, stored only as a scrypt hash, rotated everywhere."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from ghlbridge.server.auth import TOKEN_PREFIX, AdminCredentials, hash_token, token_matches
from ghlbridge.store import create_engine, migrate
from ghlbridge.store.schema import admin_credentials


def test_the_token_is_made_once_and_only_its_hash_is_stored(tmp_path: Path) -> None:
    db = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db)
    creds = AdminCredentials(db)
    token = creds.ensure()
    assert token is not None and token.startswith(TOKEN_PREFIX) and len(token) > 40
    assert creds.ensure() is None and AdminCredentials(db).ensure() is None
    with db.connect() as conn:
        stored = conn.execute(select(admin_credentials.c.token_hash)).scalar_one()
    assert stored.startswith("scrypt$") and token not in stored
    assert creds.check(token) and creds.check(token)  # second time from the cache
    assert not creds.check(token + "x") and not creds.check("")
    db.dispose()
    assert token.encode() not in (tmp_path / "a.db").read_bytes()


def test_a_reset_retires_the_old_token_in_every_process(tmp_path: Path) -> None:
    db = create_engine(f"sqlite:///{tmp_path / 'a.db'}")
    migrate(db)
    now = [0.0]
    serving = AdminCredentials(db, clock=lambda: now[0])
    old = serving.ensure()
    assert old is not None and serving.check(old)
    new = AdminCredentials(db).reset()  # `ghlbridge serve --reset-admin-token` elsewhere
    now[0] += 5  # past the re-read interval
    assert not serving.check(old) and serving.check(new)


def test_hashes_verify_only_their_token() -> None:
    stored = hash_token("ghlb_abc")
    assert token_matches("ghlb_abc", stored) and not token_matches("ghlb_abd", stored)
    assert hash_token("ghlb_abc") != stored  # salted
    assert not token_matches("ghlb_abc", "garbage") and not token_matches("x", "md5$1$2$3$4$5")
