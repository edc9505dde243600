"""`ghlbridge sandbox` as a user runs it: every flag, the printed credentials and webhook
keys, and a signed webhook to a `--webhook-url`."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest
from typer.testing import CliRunner

from ghlbridge.cli.main import app
from tests.sandbox.webhook_receiver import Receiver, verify_signatures

CLI = [sys.executable, "-m", "ghlbridge.cli.main", "sandbox"]
LOCATION = "LOC000000000000000CL"


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "GHLBRIDGE_"))}
    return {**env, "GHLBRIDGE_HOME": str(home), "COLUMNS": "60"}


def _parse(lines: list[str]) -> tuple[dict[str, str], list[str]]:
    """The ``key: value`` lines, and the PEM blocks in order."""
    values: dict[str, str] = {}
    pems: list[str] = []
    block: list[str] | None = None
    for line in lines:
        if line.startswith("-----BEGIN"):
            block = [line]
        elif block is not None:
            block.append(line)
            if line.startswith("-----END"):
                pems.append("\n".join(block) + "\n")
                block = None
        else:
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip()
    return values, pems


async def test_sandbox_prints_credentials_and_keys_and_signs_webhooks(tmp_path: Path) -> None:
    async with Receiver() as receiver:
        proc = await asyncio.create_subprocess_exec(
            *CLI,
            *("--host", "127.0.0.1", "--port", "0", "--token", "pit-cli"),
            *("--location-id", LOCATION, "--seed", "9", "--contacts", "40", "--locations", "2"),
            *("--rate-limit", "50/1s", "--daily-limit", "5000", "--latency-ms", "0"),
            *("--fault-rate", "0", "--timeout-rate", "0", "--drop-rate", "0"),
            *("--webhook-url", receiver.url("/a"), "--webhook-url", receiver.url("/b")),
            *("--webhook-fault-rate", "0"),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=_env(tmp_path),
        )
        try:
            assert proc.stdout is not None
            lines: list[str] = []
            while not lines or not lines[-1].startswith("serving"):
                raw = await asyncio.wait_for(proc.stdout.readline(), 30)
                assert raw, (lines, await proc.stderr.read() if proc.stderr else b"")
                lines.append(raw.decode().rstrip("\n"))
            values, pems = _parse(lines[:-1])
            assert values["location PIT"] == "pit-cli" and values["location id"] == LOCATION
            for key in ("company id", "agency PIT", "OAuth client id", "OAuth secret"):
                assert values[key], key
            assert values["seed data"].startswith("2 locations, 40 contacts")
            assert values["location 2 PIT"].startswith("pit-")
            base = values["base URL"]
            async with aiohttp.ClientSession() as session:
                async with session.get(f"{base}/.sandbox/webhook-keys") as resp:
                    served = await resp.json()
                assert pems == [served["ed25519"], served["rsa"]]
                async with session.post(
                    f"{base}/contacts/",
                    json={"locationId": LOCATION, "email": "cli@example.com"},
                    headers={"Authorization": "Bearer pit-cli", "Version": "2021-07-28"},
                ) as resp:
                    assert resp.status == 201, await resp.text()
                    contact = (await resp.json())["contact"]
            received = await receiver.wait_for(2)
        finally:
            proc.terminate()
            await proc.wait()
    assert sorted(r.path for r in received) == ["/a", "/b"]
    for r in received:
        assert r.json()["type"] == "ContactCreate" and r.json()["id"] == contact["id"]
        verify_signatures({"ed25519": pems[0], "rsa": pems[1]}, r.body, r.headers)


@pytest.mark.parametrize(
    ("flags", "error"),
    [
        (["--drop-rate", "2"], "drop_rate must be between 0 and 1"),
        (["--burst-429", "often"], "--burst-429 'often': expected LENGTH/EVERY"),
        (["--webhook-url", "ftp://x"], "webhook_urls must be http(s) URLs"),
        (["--webhook-rsa-key", "/no/such.pem"], "webhook key file /no/such.pem"),
    ],
)
def test_bad_flags_fail_in_one_line(flags: list[str], error: str) -> None:
    result = CliRunner().invoke(app, ["sandbox", *flags])
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1 and error in result.stderr, result.stderr
