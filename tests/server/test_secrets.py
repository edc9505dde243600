"""Secrets stay secret: a PIT, an OAuth client secret and a hook HMAC secret are planted,
the API and a failing flow are exercised, and the logs, every API answer, the run records
and the raw database files are searched for them. Key rotation re-encrypts them."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from ghlbridge.cli.main import app as cli
from ghlbridge.connectors.http.webhook import SIGNATURE_HEADER, sign_outbound
from ghlbridge.server.flow_settings import HookSecrets
from ghlbridge.server.oauth_apps import OAuthAppStore
from ghlbridge.store import Vault
from ghlbridge.store.schema import hook_secrets, oauth_apps
from tests.server.conftest import CLIENT_ID, ServerHarness

PIT = "pit-PLANTED-7c1d9e2f4a6b"
CLIENT_SECRET = "oauth-PLANTED-3b8e0f1a6d2c"
HMAC_SECRET = "hmac-PLANTED-9a2c4e6f8b0d1e"
PLANTED = (PIT, CLIENT_SECRET, HMAC_SECRET)
LEAKY = """\
name: leaky
connection: leaky
trigger:
  manual: {}
steps:
  - id: read
    action: contacts.get_contact
    with:
      contactId: abc
"""


def _assert_clean(where: str, text: str | bytes) -> None:
    data = text if isinstance(text, bytes) else text.encode()
    for secret in PLANTED:
        assert secret.encode() not in data, f"{secret} leaked into {where}"


async def test_planted_secrets_never_reach_logs_answers_runs_or_the_database(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answers: list[httpx.Response] = []
    async with ServerHarness(tmp_path, flows={"leaky": LEAKY}) as h:

        async def call(method: str, path: str, **kw: Any) -> httpx.Response:
            answer = await h.api(method, path, **kw)
            answers.append(answer)
            return answer

        leaky = {"name": "leaky", "token": PIT, "location_id": h.sb.location_id}
        assert (await call("POST", "/api/connections", json=leaky)).status_code == 201
        # invalid requests that carry the secrets must not echo them
        await call("POST", "/api/connections", json={**leaky, "name": "Bad Name"})
        await call("POST", "/api/connections", json={**leaky, "token": {"nested": PIT}})
        await call("POST", "/api/connections", json={**leaky, "location_id": "bad id!"})
        app_in = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "scopes": ["x y"]}
        await call("PUT", "/api/oauth/app", json=app_in)
        await call("PUT", "/api/oauth/app", json={**app_in, "client_id": "has space"})
        assert (await call("PUT", "/api/oauth/app", json={**app_in, "scopes": []})).is_success
        await call("PUT", "/api/flows/leaky/hook-secret", json={"secret": HMAC_SECRET[:5]})
        secret_in = {"secret": HMAC_SECRET}
        assert (await call("PUT", "/api/flows/leaky/hook-secret", json=secret_in)).is_success

        for path in ("/api/connections", "/api/connections/leaky", "/api/oauth/app"):
            await call("GET", path)
        tested = await call("POST", "/api/connections/leaky/test")
        assert tested.json()["ok"] is False  # GHL refuses the planted PIT
        answers.append(await h.http.get("/oauth/start"))
        callback = await h.http.get("/oauth/callback", params={"code": "bogus-code"})
        answers.append(callback)
        assert callback.status_code == 400  # the sandbox refused the code
        started = await call("POST", "/api/flows/leaky/run", json={"input": {}})
        body = json.dumps({"hello": "hook"}).encode()
        stamp = int(time.time())
        hook = await h.http.post(
            "/hooks/leaky",
            content=body,
            headers={SIGNATURE_HEADER: sign_outbound(body, HMAC_SECRET, stamp)},
        )
        answers.append(hook)
        assert hook.status_code == 200, hook.text
        runs = await h.wait_runs("leaky", 2)
        assert {r["status"] for r in runs} == {"dead"}, runs
        for run in runs:
            detail = await call("GET", f"/api/runs/{run['id']}")
            assert detail.json()["attempts"][0]["status"] == "failed"
        for path in ("/api/runs", "/api/events", "/metrics", "/openapi.json", "/api/flows"):
            await call("GET", path)
        assert started.status_code == 202
        records = [r.to_dict() for r in h.services.flow_store.list_runs(limit=100)]
        attempts = [a.to_dict() for r in runs for a in h.services.flow_store.attempts(str(r["id"]))]
    h.services.db.dispose()

    for answer in answers:
        _assert_clean(f"{answer.request.method} {answer.request.url}", answer.content)
        _assert_clean(f"headers of {answer.request.url}", json.dumps(dict(answer.headers)))
    _assert_clean("run records", json.dumps([records, attempts], default=str))
    _assert_clean("the log", caplog.text)
    assert caplog.records, "nothing was logged: the scan proves nothing"
    for path in tmp_path.glob("server.db*"):  # the database, its WAL and shared memory
        _assert_clean(path.name, path.read_bytes())


def test_rotate_key_re_encrypts_the_servers_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GHLBRIDGE_SECRET_KEY")  # the key file in GHLBRIDGE_HOME
    db_url = f"sqlite:///{tmp_path / 'rotate.db'}"
    monkeypatch.setenv("GHLBRIDGE_DATABASE_URL", db_url)
    from ghlbridge.store import create_engine, migrate

    db = create_engine(db_url)
    migrate(db)
    vault = Vault.from_env()
    OAuthAppStore(db, vault).put(CLIENT_ID, CLIENT_SECRET, ["contacts.readonly"])
    HookSecrets(db, vault).put("flow-a", HMAC_SECRET)

    def ciphertexts() -> list[tuple[bytes, str]]:
        with db.connect() as conn:
            rows = conn.execute(select(oauth_apps.c.secret_ciphertext, oauth_apps.c.key_id)).all()
            rows += conn.execute(select(hook_secrets.c.secret_ciphertext, hook_secrets.c.key_id))
        return [(bytes(c), str(k)) for c, k in rows]

    before = ciphertexts()
    result = CliRunner().invoke(cli, ["connections", "rotate-key"])
    assert result.exit_code == 0, result.output
    after = ciphertexts()
    assert len(after) == 2
    assert all(a[0] != b[0] and a[1] != b[1] for a, b in zip(after, before, strict=True))
    fresh = Vault.from_env()
    assert {k for _, k in after} == {fresh.key_id}
    config = OAuthAppStore(db, fresh).get()
    assert config is not None and config.client_secret() == CLIENT_SECRET
    assert HookSecrets(db, fresh).get("flow-a") == HMAC_SECRET
    db.dispose()


def test_the_log_filter_of_serve_masks_known_secrets_in_messages_and_tracebacks() -> None:
    import io

    from ghlbridge.flows.redact import Redactor
    from ghlbridge.server.logs import RedactingFilter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor(PLANTED)))
    logger = logging.getLogger("ghlbridge.test.redaction")
    logger.addHandler(handler)
    try:
        logger.warning("token %s and secret %s", PIT, CLIENT_SECRET)
        try:
            raise RuntimeError(f"failed with {HMAC_SECRET}")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    _assert_clean("a filtered log", output)
    assert "token *** and secret ***" in output and "RuntimeError: failed with ***" in output
