"""`ghlbridge call/export` as a user runs them: a subprocess against a GHL-like server."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ghlbridge.catalog import load_catalog
from tests.fakes.ghl_server import FakeGHL

TOKEN = "pit-e2e-token"


@pytest.fixture
def ghl() -> Iterator[FakeGHL]:
    server = FakeGHL(tokens=frozenset({TOKEN}))
    server.start_in_thread()
    yield server
    server.stop()


def run_cli(
    *args: str,
    server: FakeGHL | None = None,
    home: Path,
    token: str | None = TOKEN,
    stdin: str | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GHL")}
    env["GHLBRIDGE_HOME"] = str(home)
    env.pop("GHLBRIDGE_DATABASE_URL", None)
    if token:
        env["GHL_TOKEN"] = token
    if server:
        env["GHL_BASE_URL"] = server.base_url
    return subprocess.run(
        [sys.executable, "-m", "ghlbridge.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        input=stdin,
        timeout=120,
    )


def test_all_pages_start_after_paging_returns_every_contact_once_despite_page_cap(
    ghl: FakeGHL, tmp_path: Path
) -> None:
    ghl.config.contacts, ghl.config.page_cap = 137, 7
    location = ghl.location_ids[0]
    out = run_cli(
        "call",
        "contacts.get_contacts",
        "-p",
        f"locationId={location}",
        "-p",
        "limit=100",
        "--all-pages",
        "--json",
        server=ghl,
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    ids = [c["id"] for c in json.loads(out.stdout)]
    assert len(ids) == 137 and len(set(ids)) == 137
    assert len(ghl.requests) == 20  # ceil(137 / 7) pages, nothing fetched twice


def test_all_pages_skip_limit_paging_returns_every_location_once_despite_page_cap(
    ghl: FakeGHL, tmp_path: Path
) -> None:
    ghl.config.locations, ghl.config.page_cap = 53, 5
    out = run_cli(
        "call",
        "locations.search_locations",
        "-p",
        "limit=50",
        "--all-pages",
        "--json",
        server=ghl,
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    ids = [loc["id"] for loc in json.loads(out.stdout)]
    assert sorted(ids) == sorted(ghl.location_ids)
    assert len(ids) == len(set(ids)) == 53


def test_paging_under_a_tight_rate_limit_with_flaky_503s_completes_with_few_429s(
    ghl: FakeGHL, tmp_path: Path
) -> None:
    ghl.config.contacts, ghl.config.page_cap = 120, 7
    ghl.config.rate_max, ghl.config.rate_interval, ghl.config.fail_every = 8, 1.0, 7
    location = ghl.location_ids[0]
    out = run_cli(
        "call",
        "contacts.get_contacts",
        "-p",
        f"locationId={location}",
        "--all-pages",
        "--json",
        server=ghl,
        home=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    ids = [c["id"] for c in json.loads(out.stdout)]
    assert len(ids) == len(set(ids)) == 120
    statuses = [r.status for r in ghl.requests]
    assert statuses.count(503) >= 2, "the server really failed some requests"
    assert statuses.count(429) <= 3
    version = load_catalog().get("contacts.get_contacts").version
    assert {r.version for r in ghl.requests} == {version}


def test_each_operation_is_sent_with_its_own_version_header(ghl: FakeGHL, tmp_path: Path) -> None:
    catalog = load_catalog()
    for op_id, params in [
        ("calendars.get_calendars", ["-p", "locationId=L1"]),
        ("contacts.get_contact", ["-p", "contactId=c1"]),
        ("saas_api.get_saas_locations", ["-p", "companyId=C1", "-p", "page=1"]),
    ]:
        op = catalog.get(op_id)
        out = run_cli("call", op_id, *params, server=ghl, home=tmp_path)
        assert out.returncode in (0, 1), out.stderr
        assert ghl.requests[-1].version == op.version, op_id
        assert ghl.requests[-1].authorization == f"Bearer {TOKEN}"


def test_missing_required_param_exits_non_zero_names_it_and_sends_nothing(
    ghl: FakeGHL, tmp_path: Path
) -> None:
    out = run_cli("call", "contacts.get_contact", server=ghl, home=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "ghlbridge: error: contacts.get_contact: contactId: missing required path parameter"
    )
    assert out.stdout == ""
    assert ghl.requests == []


def test_bad_body_json_names_file_line_and_column(ghl: FakeGHL, tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{\n  "email": "a@b.co",\n  "firstName": oops\n}\n')
    out = run_cli(
        "call", "contacts.create_contact", "--body", f"@{body}", server=ghl, home=tmp_path
    )
    assert out.returncode == 2
    assert f"{body}:3:16: invalid JSON" in out.stderr
    assert ghl.requests == []


def test_api_errors_are_one_line_with_status_and_message(ghl: FakeGHL, tmp_path: Path) -> None:
    out = run_cli(
        "call",
        "contacts.get_contact",
        "-p",
        "contactId=zzzzzzzzzzzzzzzzzzzz",
        server=ghl,
        home=tmp_path,
    )
    assert out.returncode == 1
    assert out.stderr.count("\n") == 1
    assert "contacts.get_contact: HTTP 404" in out.stderr
    out = run_cli(
        "call",
        "contacts.get_contact",
        "-p",
        "contactId=x",
        server=ghl,
        home=tmp_path,
        token="wrong",
    )
    assert out.returncode == 1 and "HTTP 401" in out.stderr and "wrong" not in out.stderr


def test_export_writes_every_item_to_jsonl_and_csv(ghl: FakeGHL, tmp_path: Path) -> None:
    ghl.config.contacts, ghl.config.page_cap = 61, 9
    location = ghl.location_ids[0]
    for fmt in ("jsonl", "csv"):
        target = tmp_path / f"contacts.{fmt}"
        out = run_cli(
            "export",
            "contacts.get_contacts",
            "-p",
            f"locationId={location}",
            "--format",
            fmt,
            "--out",
            str(target),
            server=ghl,
            home=tmp_path,
        )
        assert out.returncode == 0, out.stderr
        assert "wrote 61 items" in out.stderr
        if fmt == "jsonl":
            ids = [json.loads(line)["id"] for line in target.read_text().splitlines()]
        else:
            with target.open(newline="") as fh:
                ids = [row["id"] for row in csv.DictReader(fh)]
        assert len(ids) == len(set(ids)) == 61
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".contacts")) == []


def test_failed_export_leaves_no_file(ghl: FakeGHL, tmp_path: Path) -> None:
    target = tmp_path / "out.jsonl"
    out = run_cli(
        "export",
        "contacts.get_contacts",
        "-p",
        "locationId=L",
        "--out",
        str(target),
        server=ghl,
        home=tmp_path,
        token="wrong",
    )
    assert out.returncode == 1
    assert not target.exists()
    assert [p for p in tmp_path.iterdir() if p.name.startswith(".out.jsonl")] == []


def test_connect_stores_the_token_encrypted_and_calls_use_it(ghl: FakeGHL, tmp_path: Path) -> None:
    location = ghl.location_ids[0]
    out = run_cli(
        "connect",
        "ghl",
        "--name",
        "main",
        "--token",
        "-",
        "--location-id",
        location,
        home=tmp_path,
        token=None,
        stdin=TOKEN + "\n",
    )
    assert out.returncode == 0, out.stderr
    assert TOKEN not in out.stdout + out.stderr
    for db_file in tmp_path.glob("ghlbridge.db*"):
        assert TOKEN.encode() not in db_file.read_bytes()
    listed = run_cli("connections", "list", "--json", home=tmp_path, token=None)
    assert [c["name"] for c in json.loads(listed.stdout)] == ["main"]
    assert TOKEN not in listed.stdout
    got = run_cli(
        "call",
        "contacts.get_contacts",
        "-c",
        "main",
        "--json",
        server=ghl,
        home=tmp_path,
        token=None,
    )
    assert got.returncode == 0, got.stderr
    assert ghl.requests[-1].authorization == f"Bearer {TOKEN}"
    assert ghl.requests[-1].query["locationId"] == location
    dup = run_cli("connect", "ghl", "--name", "main", "--token", "x", home=tmp_path, token=None)
    assert dup.returncode == 2 and "main" in dup.stderr
    gone = run_cli("connections", "remove", "main", home=tmp_path, token=None)
    assert gone.returncode == 0
    missing = run_cli("connections", "remove", "main", home=tmp_path, token=None)
    assert missing.returncode == 2 and "main" in missing.stderr
