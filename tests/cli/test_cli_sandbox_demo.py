"""`ghlbridge sandbox` and `ghlbridge demo` run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

CLI = [sys.executable, "-m", "ghlbridge.cli.main"]


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GHL_", "GHLBRIDGE_"))}
    env["GHLBRIDGE_HOME"] = str(home)
    return env


def test_demo_creates_pages_and_exports_contacts_in_the_sandbox(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "demo", "--contacts", "12"],
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "COLUMNS": "200"},
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "catalog: 576 operations in 41 apps" in out.stdout
    assert "paged contacts.get_contacts: 12 contacts" in out.stdout
    assert "refused before sending: contacts.get_contact: contactId" in out.stdout
    assert re.search(r"client: \d+ requests, 0 retries, 0 answers 429", out.stdout)
    exported = (tmp_path / "demo" / "contacts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["email"] for line in exported) == sorted(
        f"demo{i}@example.com" for i in range(12)
    )


def test_sandbox_command_serves_fixed_credentials_that_the_cli_can_call(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [
            *CLI,
            "sandbox",
            "--port",
            "0",
            "--token",
            "pit-fixed",
            "--location-id",
            "LOC000000000000000AA",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(tmp_path),
    )
    try:
        assert proc.stdout is not None
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while "location PIT" not in lines and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            key, _, value = line.partition(":")
            lines[key.strip()] = value.strip()
        assert lines.get("location PIT") == "pit-fixed", lines
        assert lines["location id"] == "LOC000000000000000AA"
        env = {
            **_env(tmp_path),
            "GHL_BASE_URL": lines["base URL"],
            "GHL_TOKEN": "pit-fixed",
            "GHL_LOCATION_ID": "LOC000000000000000AA",
        }
        created = subprocess.run(
            [
                *CLI,
                "call",
                "contacts.create_contact",
                "--body",
                '{"email": "x@example.com"}',
                "--json",
            ],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert created.returncode == 0, created.stderr
        listed = subprocess.run(
            [*CLI, "call", "contacts.get_contacts", "--all-pages", "--json"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert [c["email"] for c in json.loads(listed.stdout)] == ["x@example.com"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_sandbox_rejects_a_bad_rate_limit_in_one_line(tmp_path: Path) -> None:
    out = subprocess.run(
        [*CLI, "sandbox", "--rate-limit", "fast"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr == (
        "ghlbridge: error: --rate-limit 'fast': expected COUNT/INTERVAL such as 100/10s\n"
    )
