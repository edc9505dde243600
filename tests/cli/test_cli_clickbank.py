"""`ghlbridge clickbank ...` and `ghlbridge connect clickbank|http`, as users run them.

The decrypt command runs as real subprocesses (started together, so the suite stays fast);
the rest runs in-process through Typer's runner, against a fake ClickBank in a thread.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ghlbridge.cli import clickbank, connections
from ghlbridge.connectors.http import HttpApp
from ghlbridge.store import ConnectionStore, Vault, create_engine
from tests.connectors.fake_clickbank import FakeClickBank
from tests.connectors.ins_vectors import VECTOR_PLAINTEXT, VECTOR_SECRET, cart, encrypt, vector_body

CLI = [sys.executable, "-m", "ghlbridge.cli.main"]
WRONG_KEY = "01GA50AY4BYGZKG0"


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "GHLBRIDGE_"))}
    return {**env, "GHLBRIDGE_HOME": str(home), **extra}


@pytest.fixture(scope="module")
def decrypt_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every subprocess case at once; each test below reads its own."""
    home = tmp_path_factory.mktemp("home")
    body_file = home / "ins.json"
    body_file.write_bytes(vector_body())
    cases: dict[str, tuple[list[str], dict[str, str], bytes | None]] = {
        "file_and_flag": (["--secret-key", VECTOR_SECRET, str(body_file)], _env(home), None),
        "stdin_and_env": (
            ["-"],
            _env(home, GHLBRIDGE_CLICKBANK_SECRET_KEY=VECTOR_SECRET),
            vector_body(),
        ),
        "wrong_key": ([str(body_file)], _env(home, GHLBRIDGE_CLICKBANK_SECRET_KEY=WRONG_KEY), None),
    }
    procs = {
        name: (
            subprocess.Popen(
                [*CLI, "clickbank", "decrypt", *args],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=env,
            ),
            stdin,
        )
        for name, (args, env, stdin) in cases.items()
    }
    results = {}
    for name, (proc, stdin) in procs.items():
        out, err = proc.communicate(stdin or b"", timeout=120)
        results[name] = subprocess.CompletedProcess(
            proc.args, proc.returncode, out.decode(), err.decode()
        )
    return results


@pytest.mark.parametrize("case", ["file_and_flag", "stdin_and_env"])
def test_decrypt_prints_the_notification_as_pretty_json(
    decrypt_runs: dict[str, subprocess.CompletedProcess[str]], case: str
) -> None:
    run = decrypt_runs[case]
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == json.loads(VECTOR_PLAINTEXT)
    assert run.stdout.startswith('{\n  "transactionTime": "20220810T162015-0700"')
    assert run.stderr == ""


def test_decrypt_with_a_wrong_key_fails_with_one_line_and_no_secret(
    decrypt_runs: dict[str, subprocess.CompletedProcess[str]],
) -> None:
    run = decrypt_runs["wrong_key"]
    assert run.returncode == 2 and run.stdout == ""
    assert run.stderr == (
        "ghlbridge: error: cannot decrypt notification: wrong secret key or corrupted data\n"
    )


# --- in-process ------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key in [k for k in os.environ if k.startswith(("GHL_", "GHLBRIDGE_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("GHLBRIDGE_HOME", str(tmp_path))
    return tmp_path


def invoke(app: Any, args: list[str], stdin: str | None = None) -> Any:
    return CliRunner().invoke(app, args, input=stdin, catch_exceptions=False)


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            json.dumps({"notification": "A" * 22 + "==", "iv": "QUJD"}),
            "iv decodes to 3 bytes, expected 16",
        ),
        ("not json", 'body is not JSON; expected {"notification": "...", "iv": "..."}'),
        (
            encrypt(json.dumps({"receipt": "R1"}).encode(), "K1", b"i" * 16).decode(),
            "notification lacks transactionType",
        ),
    ],
)
def test_decrypt_reports_each_bad_body_in_one_line(home: Path, body: str, error: str) -> None:
    result = invoke(clickbank.app, ["decrypt", "--secret-key", "K1"], stdin=body)
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == f"ghlbridge: error: {error}\n"


def test_decrypt_without_a_key_says_where_to_put_it(home: Path) -> None:
    result = invoke(clickbank.app, ["decrypt"], stdin=vector_body().decode())
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr == (
        "ghlbridge: error: no secret key: pass --secret-key, set GHLBRIDGE_CLICKBANK_SECRET_KEY "
        "or --connection\n"
    )


def test_decrypt_of_a_missing_file_names_it(home: Path) -> None:
    result = invoke(clickbank.app, ["decrypt", "--secret-key", "K1", str(home / "nope.json")])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"ghlbridge: error: cannot read {home / 'nope.json'}:")


def test_decrypt_warns_about_an_unknown_version_but_prints_it(home: Path) -> None:
    body = encrypt(json.dumps(cart(9.0)).encode(), "K1", b"i" * 16).decode()
    result = invoke(clickbank.app, ["decrypt", "--secret-key", "K1"], stdin=body)
    assert result.exit_code == 0 and json.loads(result.stdout)["version"] == 9.0
    assert "warning: INS version 9.0 is not 6.0, 7.0 or 8.0" in result.stderr


def test_connect_clickbank_stores_secrets_encrypted_from_stdin(home: Path) -> None:
    result = invoke(
        connections.connect_app,
        ["clickbank", "--name", "cb", "--secret-key", "-", "--api-key", "-"],
        stdin=f"{VECTOR_SECRET}\nAPI-SECRETAPIKEY77\n",
    )
    assert result.exit_code == 0, result.stderr
    assert "stored connection 'cb' (INS secret key and API key encrypted" in result.stdout
    assert VECTOR_SECRET not in result.stdout + result.stderr
    assert "SECRETAPIKEY77" not in result.stdout + result.stderr
    db = (home / "ghlbridge.db").read_bytes()
    assert VECTOR_SECRET.encode() not in db and b"SECRETAPIKEY77" not in db
    conn = ConnectionStore(create_engine(), Vault.from_env()).get("cb")
    assert conn.provider == "clickbank"
    assert conn.secret() == {"secret_key": VECTOR_SECRET, "api_key": "API-SECRETAPIKEY77"}
    (home / "ins.json").write_bytes(vector_body())
    decrypted = invoke(clickbank.app, ["decrypt", "--connection", "cb", str(home / "ins.json")])
    assert decrypted.exit_code == 0 and json.loads(decrypted.stdout)["vendor"] == "ketoboost1"


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ([], "pass --secret-key (to read INS) and/or --api-key (to call the API)"),
        (["--dev-key", "D1", "--secret-key", "S1"], "--dev-key goes with --api-key"),
        (["--secret-key", "-"], "--secret-key: empty value"),
    ],
)
def test_connect_clickbank_refuses_incomplete_input(
    home: Path, args: list[str], error: str
) -> None:
    result = invoke(connections.connect_app, ["clickbank", "--name", "cb", *args], stdin="\n")
    assert result.exit_code == 2 and result.stderr.startswith(f"ghlbridge: error: {error}")


def test_connect_clickbank_warns_on_an_unlikely_secret_key(home: Path) -> None:
    result = invoke(
        connections.connect_app, ["clickbank", "--name", "cb", "--secret-key", "-"], stdin="abc\n"
    )
    assert result.exit_code == 0 and "check --secret-key" in result.stderr
    assert "abc" not in result.stderr


def test_connect_http_stores_every_preset_setting_encrypted(home: Path) -> None:
    result = invoke(
        connections.connect_app,
        [
            "http",
            "--name",
            "crm",
            "--base-url",
            "https://api.crm.example/v2",
            "--auth",
            "oauth2",
            "--token-url",
            "https://id.crm.example/token",
            "--client-id",
            "cid",
            "--client-secret",
            "-",
            "--scope",
            "contacts.read",
            "--header",
            "X-Tenant: t1",
            "--allow-network",
            "10.5.0.0/16",
            "--retries",
            "4",
        ],
        stdin="csecret-XYZ\n",
    )
    assert result.exit_code == 0, result.stderr
    assert "csecret-XYZ" not in result.stdout + result.stderr
    assert b"csecret-XYZ" not in (home / "ghlbridge.db").read_bytes()
    conn = ConnectionStore(create_engine(), Vault.from_env()).get("crm")
    app = HttpApp.from_dict(conn.secret())
    assert conn.provider == "http" and app.base_url == "https://api.crm.example/v2"
    assert app.to_dict()["auth"] == {
        "type": "oauth2",
        "token_url": "https://id.crm.example/token",
        "client_id": "cid",
        "client_secret": "csecret-XYZ",
        "scope": "contacts.read",
        "client_auth": "basic",
    }
    assert app.headers == {"X-Tenant": "t1"} and app.allow_networks == ("10.5.0.0/16",)
    assert app.retry.max_attempts == 4 and not app.allow_private


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (["--auth", "bearer"], "--auth bearer needs --token (use '-' to read it from stdin)"),
        (
            ["--auth", "bearer", "--token", "t", "--password", "p"],
            "--password belongs to --auth basic",
        ),
        (["--auth", "magic"], "--auth 'magic': expected one of none, api_key, bearer"),
        (["--auth", "basic", "--password", "p"], "--auth basic needs --username"),
        (["--auth", "api_key", "--api-key", "k", "--key-in", "body"], "--key-in 'body'"),
        (["--auth", "none", "--header", "nocolon"], "--header 'nocolon': expected 'Name: value'"),
    ],
)
def test_connect_http_refuses_inconsistent_options(home: Path, args: list[str], error: str) -> None:
    base = ["http", "--name", "app", "--base-url", "https://api.example.com"]
    result = invoke(connections.connect_app, [*base, *args])
    assert result.exit_code == 2 and result.stderr.startswith(f"ghlbridge: error: {error}")


def test_connect_http_refuses_a_bad_base_url(home: Path) -> None:
    args = ["http", "--name", "app", "--base-url", "ftp://x", "--auth", "none"]
    result = invoke(connections.connect_app, args)
    assert result.exit_code == 2
    assert result.stderr == "ghlbridge: error: base_url: must be an http(s) URL with a host\n"


@pytest.fixture
def fake_clickbank() -> Iterator[FakeClickBank]:
    """A fake ClickBank on its own loop in a thread, so the CLI's asyncio.run can call it."""
    fake = FakeClickBank(orders=230, page_sizes=(100, 30))
    loop = asyncio.new_event_loop()
    ready = threading.Event()
    stop = asyncio.Event()

    async def serve() -> None:
        async with fake:
            ready.set()
            await stop.wait()

    thread = threading.Thread(target=loop.run_until_complete, args=(serve(),), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield fake
    loop.call_soon_threadsafe(stop.set)
    thread.join(10)
    loop.close()


def test_clickbank_call_follows_every_page(
    home: Path, fake_clickbank: FakeClickBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GHLBRIDGE_CLICKBANK_BASE_URL", fake_clickbank.base_url)
    monkeypatch.setenv("GHLBRIDGE_CLICKBANK_API_KEY", "KEY1")
    result = invoke(clickbank.app, ["call", "orders.list", "--all-pages", "--json"])
    assert result.exit_code == 0, result.stderr
    assert len({o["receipt"] for o in json.loads(result.stdout)}) == 230
    count = invoke(clickbank.app, ["call", "orders.count", "-p", "type=SALE"])
    assert count.exit_code == 0 and count.stdout.strip() == "230"


def test_clickbank_call_reports_api_and_usage_errors(
    home: Path, fake_clickbank: FakeClickBank, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GHLBRIDGE_CLICKBANK_BASE_URL", fake_clickbank.base_url)
    monkeypatch.setenv("GHLBRIDGE_CLICKBANK_API_KEY", "WRONG")
    denied = invoke(clickbank.app, ["call", "debug"])
    assert denied.exit_code == 1
    assert denied.stderr == (
        "ghlbridge: error: clickbank debug: HTTP 401: Unauthorized: unknown API key\n"
    )
    unknown = invoke(clickbank.app, ["call", "orders.get"])
    assert unknown.exit_code == 2 and "clickbank orders.get: missing receipt" in unknown.stderr


def test_clickbank_actions_lists_the_table(home: Path) -> None:
    result = invoke(clickbank.app, ["actions", "--json"])
    names = [row["action"] for row in json.loads(result.stdout)]
    assert "orders.list" in names and "tickets.refund" in names
