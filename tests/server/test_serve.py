"""`ghlbridge serve` as users run it (a subprocess): where it listens, the admin token shown
at first start only, a rotation, and a clean stop on SIGTERM; and the graceful shutdown that
lets a webhook ingest in flight finish before the engine stops."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from ghlbridge.server import ServerSettings, create_app, services_of
from ghlbridge.server.runner import running
from ghlbridge.store.vault import generate_key

FLOW = """\
name: hello
trigger:
  manual: {}
steps:
  - id: noop
    action: http.request
    if: false
    with: {url: "http://127.0.0.1:9/"}
"""


class Served:
    def __init__(self, home: Path, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL", "GHLBRIDGE"))}
        env.update(GHLBRIDGE_HOME=str(home), GHLBRIDGE_SECRET_KEY=_KEY, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ghlbridge.cli.main", "serve", "--port", "0", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.lines: list[str] = []
        self.url = ""
        deadline = time.monotonic() + 60
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError(f"serve exited: {self.proc.wait()} {self.stderr()}")
            self.lines.append(line.rstrip("\n"))
            if "listening on " in line:
                self.url = line.split("listening on ")[1].split()[0]
                return
        raise AssertionError("serve did not start")

    @property
    def token(self) -> str | None:
        for i, line in enumerate(self.lines):
            if "admin token" in line:
                return self.lines[i + 1].strip()
        return None

    def stop(self) -> tuple[int, str]:
        self.proc.send_signal(signal.SIGTERM)
        out, _err = self.proc.communicate(timeout=60)
        return self.proc.returncode, out

    def stderr(self) -> str:
        assert self.proc.stderr is not None
        return self.proc.stderr.read()


_KEY = generate_key()


def test_serve_prints_where_it_listens_and_the_admin_token_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "flows").mkdir(parents=True)
    (home / "flows" / "hello.yaml").write_text(FLOW)
    first = Served(home)
    try:
        token = first.token
        assert token and token.startswith("ghlb_")
        assert first.url.startswith("http://127.0.0.1:") and "hello" in first.lines[-1]
        assert httpx.get(f"{first.url}/healthz").json()["engine"] == "running"
        flows = httpx.get(f"{first.url}/api/flows", headers={"Authorization": f"Bearer {token}"})
        assert [f["name"] for f in flows.json()["flows"]] == ["hello"]
        assert httpx.get(f"{first.url}/api/flows").status_code == 401
    finally:
        code, out = first.stop()
    assert code == 0 and "stopped" in out

    second = Served(home)
    try:
        assert second.token is None  # shown at first start only
        answer = httpx.get(f"{second.url}/api/flows", headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200
    finally:
        assert second.stop()[0] == 0

    rotated = Served(home, "--reset-admin-token")
    try:
        new = rotated.token
        assert new and new != token
        old = httpx.get(f"{rotated.url}/api/flows", headers={"Authorization": f"Bearer {token}"})
        assert old.status_code == 401
    finally:
        assert rotated.stop()[0] == 0


def test_serve_refuses_invalid_recipes_and_bad_keys_with_a_clear_reason(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "flows").mkdir(parents=True)
    (home / "flows" / "bad.yaml").write_text("name: bad\ntrigger: {}\nsteps: []\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL", "GHLBRIDGE"))}
    env.update(GHLBRIDGE_HOME=str(home), GHLBRIDGE_SECRET_KEY=_KEY)
    cmd = [sys.executable, "-m", "ghlbridge.cli.main", "serve", "--port", "0"]
    bad_recipe = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
    assert bad_recipe.returncode == 2 and "bad.yaml" in bad_recipe.stderr
    assert "--skip-invalid" in bad_recipe.stderr
    env["GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY"] = "not a key"
    bad_key = subprocess.run([*cmd, "--skip-invalid"], capture_output=True, text=True, env=env)
    assert bad_key.returncode == 2
    assert "GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY: not a readable RSA public key" in bad_key.stderr
    del env["GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY"]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        busy = subprocess.run(
            [*cmd[:-1], port, "--skip-invalid"], capture_output=True, text=True, env=env
        )
    assert busy.returncode == 2 and f"cannot listen on 127.0.0.1:{port}" in busy.stderr


async def test_a_graceful_stop_lets_a_webhook_ingest_in_flight_finish(tmp_path: Path) -> None:
    from tests.server.test_verify import ED_KEY, RSA_KEY, _headers, _pem

    app = create_app(
        ServerSettings(
            database_url=f"sqlite:///{tmp_path / 'g.db'}",
            webhook_ed25519_key=_pem(ED_KEY.public_key()),
            webhook_rsa_key=_pem(RSA_KEY.public_key()),
        )
    )
    services = services_of(app)
    engine = services.engine
    entered, release = asyncio.Event(), asyncio.Event()
    real_ingest = engine.ingest_event

    async def slow_ingest(*args: Any, **kw: Any) -> Any:
        entered.set()
        await release.wait()
        return await real_ingest(*args, **kw)

    engine.ingest_event = slow_ingest  # type: ignore[method-assign]
    body = json.dumps({"type": "NoteCreate", "webhookId": "in-flight"}).encode()
    async with running(app) as served, httpx.AsyncClient(base_url=served.url) as http:
        pending = asyncio.create_task(
            http.post("/webhooks/ghl", content=body, headers=_headers(body))
        )
        await entered.wait()
        served.stop()  # SIGTERM's graceful path: stop accepting, finish what is in flight
        await asyncio.sleep(0.2)
        assert engine.running  # the engine waits for the requests
        release.set()
        answer = await pending
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert not engine.running
    (event,) = services.flow_store.list_events()
    assert event["dedupe_key"] == "ghl:in-flight"
