"""`ghlbridge connect ghl --oauth` end to end against the sandbox's install page and token API."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.testing import serve_sandbox

CLI = [sys.executable, "-m", "ghlbridge.cli.main"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_oauth_install_stores_rotating_tokens_that_later_calls_refresh(tmp_path: Path) -> None:
    # A 1 s token life is inside the client's refresh margin: every call below refreshes, and
    # the sandbox's refresh tokens are single-use, so each must persist the new pair to work.
    with serve_sandbox(SandboxSettings(seed=21, access_token_ttl=1)) as (base_url, sb):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "GHLBRIDGE_"))}
        env |= {"GHLBRIDGE_HOME": str(tmp_path), "GHL_BASE_URL": base_url}
        secret = sb.oauth_client.client_secret
        connect = subprocess.Popen(
            [
                *CLI,
                "connect",
                "ghl",
                "--oauth",
                "--name",
                "app",
                "--no-browser",
                "--client-id",
                sb.oauth_client.client_id,
                "--client-secret",
                "-",
                "--redirect-port",
                str(_free_port()),
                "--marketplace-url",
                base_url,
                "--scope",
                "contacts.readonly",
                "--scope",
                "contacts.write",
                "--wait",
                "30",
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert connect.stdin is not None and connect.stderr is not None
        connect.stdin.write(secret + "\n")
        connect.stdin.close()
        assert "open this URL" in connect.stderr.readline()
        install_url = connect.stderr.readline().strip()
        assert install_url.startswith(f"{base_url}/v2/oauth/chooselocation?")
        with urllib.request.urlopen(install_url, timeout=10) as page:  # follows the redirect
            assert b"installed" in page.read()
        assert connect.wait(timeout=30) == 0, connect.stderr.read()
        assert connect.stdout is not None
        out, err = connect.stdout.read(), connect.stderr.read()
        assert f"for location {sb.location_id}" in out
        assert secret not in out + err
        for db_file in tmp_path.glob("ghlbridge.db*"):
            assert secret.encode() not in db_file.read_bytes()

        for i in range(3):
            made = subprocess.run(
                [
                    *CLI,
                    "call",
                    "contacts.create_contact",
                    "-c",
                    "app",
                    "--json",
                    "--body",
                    json.dumps({"email": f"o{i}@example.com"}),
                ],
                capture_output=True,
                text=True,
                env=env,
                timeout=60,
            )
            assert made.returncode == 0, made.stderr
        listed = subprocess.run(
            [*CLI, "call", "contacts.get_contacts", "-c", "app", "--all-pages", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert listed.returncode == 0, listed.stderr
        assert sorted(c["email"] for c in json.loads(listed.stdout)) == [
            f"o{i}@example.com" for i in range(3)
        ]


def test_oauth_connect_needs_client_credentials(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "GHLBRIDGE_"))}
    env["GHLBRIDGE_HOME"] = str(tmp_path)
    out = subprocess.run(
        [*CLI, "connect", "ghl", "--oauth"], capture_output=True, text=True, env=env, timeout=60
    )
    assert out.returncode == 2
    assert out.stderr == (
        "ghlbridge: error: --oauth needs --client-id and --client-secret (or GHL_CLIENT_*)\n"
    )
    both = subprocess.run(
        [*CLI, "connect", "ghl", "--oauth", "--token", "x"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert both.returncode == 2 and "exactly one of --token or --oauth" in both.stderr
