"""The server's tables on SQLite and PostgreSQL: switches, hook secrets, the OAuth app and its
one-time states, and installation records (a location's own install wins over an agency's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.engine import Engine

from ghlbridge.server.flow_settings import FlowSwitches, HookSecrets
from ghlbridge.server.installations import Installations
from ghlbridge.server.oauth_apps import OAuthAppStore
from ghlbridge.store import ConnectionStore, SQLTokenStore, Vault, create_engine, migrate
from ghlbridge.store.vault import generate_key
from tests.store.conftest import db_url, pg_url, sqlite_url  # noqa: F401  (fixtures)


@pytest.fixture
def db(db_url: str) -> Iterator[Engine]:  # noqa: F811
    engine = create_engine(db_url)
    migrate(engine)
    try:
        yield engine
    finally:
        engine.dispose()


def test_switches_secrets_and_the_oauth_app_are_upserted(db: Engine) -> None:
    vault = Vault([generate_key()])
    switches = FlowSwitches(db)
    switches.set("a", False)
    switches.set("a", True)
    switches.set("b", False)
    assert switches.all() == {"a": True, "b": False}
    hooks = HookSecrets(db, vault)
    hooks.put("a", "first-secret-0123456789")
    hooks.put("a", "second-secret-0123456789")
    assert hooks.get("a") == "second-secret-0123456789" and hooks.flows() == {"a"}
    assert hooks.delete("a") and not hooks.delete("a") and hooks.get("a") is None
    apps = OAuthAppStore(db, vault)
    assert apps.get() is None
    apps.put("app-1", "s1-secret", ["contacts.readonly"])
    config = apps.put("app-1", "s2-secret", ["contacts.write", "contacts.write"])
    assert config.client_secret() == "s2-secret" and config.scopes == ("contacts.write",)
    state = apps.issue_state()
    assert apps.consume_state(state) and not apps.consume_state(state)
    expired = apps.issue_state(ttl=-1)
    assert not apps.consume_state(expired) and not apps.consume_state("never-issued")


def test_an_agency_list_does_not_replace_a_locations_own_install(db: Engine) -> None:
    vault = Vault([generate_key()])
    records = Installations(db, ConnectionStore(db, vault), SQLTokenStore(db, vault))

    def record(location: str, connection: str | None, source: str) -> None:
        records.record(
            app_id="app",
            install_type="Location",
            company_id="C1",
            location_id=location,
            connection=connection,
            source=source,
        )

    record("L1", None, "webhook")
    record("L1", "ghl-l1", "oauth")
    record("L1", "agency", "agency")
    record("L2", None, "webhook")
    record("L2", "agency", "agency")
    rows = {r.account_id: (r.connection, r.source) for r in records.all()}
    assert rows == {"L1": ("ghl-l1", "oauth"), "L2": ("agency", "webhook")}
