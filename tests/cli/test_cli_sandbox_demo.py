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


DEMO_FLOWS = (
    "social-tag-details-to-partner",
    "social-stats-to-partner",
    "posts-stats-to-partner",
    "partner-tag-details-request",
    "clickbank-sale-to-contact",
    "new-location-tags-to-partner",
    "new-contact-to-partner",
)
PARTNER_KINDS = (
    "tag_details",
    "post_stats",
    "statistics",
    "location_tags",
    "tag_details_response",
    "webhook",
)


def test_demo_runs_the_client_then_every_template_flow_through_the_server(
    tmp_path: Path,
) -> None:
    started = time.monotonic()
    out = subprocess.run(
        [*CLI, "demo", "--contacts", "12"],
        capture_output=True,
        text=True,
        env={**_env(tmp_path), "COLUMNS": "250"},
        timeout=90,
    )
    took = time.monotonic() - started
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr
    assert "Traceback" not in out.stderr and "Unclosed" not in out.stderr, out.stderr
    text = out.stdout
    # Part 1: the client against the sandbox.
    assert "catalog: 576 operations in 41 apps" in text
    assert "paged contacts.get_contacts: 12 contacts" in text
    assert "refused before sending: contacts.get_contact: contactId" in text
    assert re.search(r"client: \d+ requests, 0 retries, 0 answers 429", text)
    exported = (tmp_path / "demo" / "contacts.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["email"] for line in exported) == sorted(
        f"demo{i}@example.com" for i in range(12)
    )
    # Part 2: every demo flow completed runs through the server, and nothing failed.
    summary = text[text.index("completed runs per flow") :]
    for flow in DEMO_FLOWS:
        row = re.search(rf"^\s*{flow}\s+.*?(\d+) succeeded\s+ok\s*$", summary, re.M)
        assert row, (flow, summary)
    assert "FAILED" not in summary
    for kind in PARTNER_KINDS:
        assert re.search(rf"^\s*{kind}\s+[1-9]\d*\s*$", summary, re.M), (kind, summary)
    buyer = re.search(r"^contact from the ClickBank sale: ana.buyer@example.com .*tags: (.*)$",
                      summary, re.M)  # fmt: skip
    assert buyer, summary
    assert set(buyer[1].split(", ")) == {
        "cb-access",
        "cb-buyer",
        "cb-product-coaching",
        "cb-product-playbook",
    }
    token = re.search(r"^admin token \(the API's bearer token\): (ghlb_\S+)$", summary, re.M)
    assert token and f"Bearer {token[1]}" in summary and "/api/runs" in summary
    assert f"GHLBRIDGE_HOME={tmp_path / 'demo'} ghlbridge runs list" in summary
    assert "/received" in summary and "/docs" in summary
    assert took < 90
    # The runs stay stored in the demo's own home, for `ghlbridge runs list`.
    listed = subprocess.run(
        [*CLI, "runs", "list", "--json", "--limit", "500"],
        capture_output=True,
        text=True,
        env={**_env(tmp_path / "demo")},
        timeout=60,
    )
    assert listed.returncode == 0, listed.stderr
    flows = {r["flow"] for r in json.loads(listed.stdout) if r["status"] == "succeeded"}
    assert flows == set(DEMO_FLOWS)


def test_demo_stops_everything_and_exits_1_with_one_line_when_runs_are_late(
    tmp_path: Path,
) -> None:
    out = subprocess.run(
        [*CLI, "demo", "--contacts", "1", "--timeout", "5"],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=60,
    )
    assert out.returncode == 1, out.stdout + out.stderr
    [line] = [x for x in out.stderr.splitlines() if x.startswith("ghlbridge: error:")]
    assert line.startswith("ghlbridge: error: timed out after 5 s waiting for ")
    assert "Traceback" not in out.stderr


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
