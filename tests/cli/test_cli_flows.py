"""`ghlbridge flows|runs|events` as a user runs them: subprocesses on a temp home."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ghlbridge.store.vault import generate_key
from tests.flows.receiver import Receiver, Served, serve_in_thread

NOTIFY = """\
name: notify
trigger:
  manual: {}
steps:
  - id: push
    action: http.request
    with:
      url: "{{ env.RECEIVER_URL }}"
      json: {id: "{{ trigger.id }}"}
"""


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, Served]]:
    recv = Receiver()
    with serve_in_thread(recv.app) as served:
        yield recv, served


def cli(
    home: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith(("GHL", "GHLBRIDGE"))}
    full.update(GHLBRIDGE_HOME=str(home), GHLBRIDGE_SECRET_KEY=generate_key(), **(env or {}))
    full["GHLBRIDGE_HTTP_ALLOW_PRIVATE"] = "1"  # the receiver listens on 127.0.0.1
    return subprocess.run(
        [sys.executable, "-m", "ghlbridge.cli.main", *args],
        capture_output=True,
        text=True,
        env=full,
        timeout=120,
    )


def test_validate_names_file_line_and_field_of_each_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        NOTIFY.replace(
            "    action: http.request\n", "    action: http.request\n    on_error: later\n"
        ).replace("manual: {}", "manual: {}\n  schedule: {every: 2s}")
    )
    out = cli(tmp_path, "flows", "validate", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert f"{bad}:4: trigger.schedule.every: input should be greater than or equal to 10" in lines
    assert f"{bad}:8: steps[0].on_error: input should be 'stop', 'continue' or 'retry'" in lines
    good = tmp_path / "good.yaml"
    good.write_text(NOTIFY)
    ok = cli(tmp_path, "flows", "validate", str(good))
    assert ok.returncode == 0 and "ok: " in ok.stdout


def test_schema_prints_a_json_schema(tmp_path: Path) -> None:
    out = cli(tmp_path, "flows", "schema")
    assert out.returncode == 0
    schema = json.loads(out.stdout)
    assert schema["$schema"].endswith("2020-12/schema") and "trigger" in schema["properties"]


def test_a_manual_flow_runs_and_its_run_and_event_are_listed(
    tmp_path: Path, receiver: tuple[Receiver, Served]
) -> None:
    recv, served = receiver
    (tmp_path / "flows").mkdir()
    (tmp_path / "flows" / "notify.yaml").write_text(NOTIFY)
    env = {"RECEIVER_URL": f"{served.url}/hook"}
    listed = cli(tmp_path, "flows", "list", "--json", env=env)
    assert json.loads(listed.stdout)[0]["name"] == "notify"

    dry = cli(tmp_path, "flows", "run", "notify", "--input", '{"id": "d1"}', "--dry-run", env=env)
    assert dry.returncode == 0, dry.stderr
    plan = json.loads(dry.stdout)
    assert plan["dry_run"] and plan["writes"][0]["json"] == {"id": "d1"} and not recv.counts

    out = cli(tmp_path, "flows", "run", "notify", "--input", '{"id": "m1"}', env=env)
    assert out.returncode == 0, out.stderr
    [run] = json.loads(out.stdout)["runs"]
    assert run["status"] == "succeeded" and dict(recv.counts) == {"m1": 1}

    runs = json.loads(cli(tmp_path, "runs", "list", "--json", env=env).stdout)
    assert [r["id"] for r in runs] == [run["id"]]  # the dry run stored nothing
    shown = json.loads(cli(tmp_path, "runs", "show", run["id"][:8], env=env).stdout)
    assert shown["attempts"][0]["output"]["status"] == 200
    events = json.loads(cli(tmp_path, "events", "list", "--json", env=env).stdout)
    assert [e["source"] for e in events] == ["manual"]


def test_a_dead_run_is_replayed_after_the_recipe_is_fixed(
    tmp_path: Path, receiver: tuple[Receiver, Served]
) -> None:
    recv, served = receiver
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "notify.yaml").write_text(
        NOTIFY.replace("{{ env.RECEIVER_URL }}", f"{served.url}/missing")
    )
    failed = cli(tmp_path, "flows", "run", "notify", "--input", '{"id": "r1"}')
    assert failed.returncode == 1
    [run] = json.loads(failed.stdout)["runs"]
    assert run["status"] == "dead" and "HTTP 404" in run["error"]
    dead = json.loads(cli(tmp_path, "runs", "list", "--status", "dead", "--json").stdout)
    assert [r["id"] for r in dead] == [run["id"]]

    (flows / "notify.yaml").write_text(
        NOTIFY.replace("{{ env.RECEIVER_URL }}", f"{served.url}/hook")
    )
    replayed = cli(tmp_path, "runs", "replay", run["id"])
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["status"] == "succeeded" and dict(recv.counts) == {"r1": 1}
    again = cli(tmp_path, "runs", "replay", run["id"])
    assert again.returncode == 2 and "only failed or dead runs" in again.stderr


def test_bad_input_is_one_line_on_stderr(tmp_path: Path) -> None:
    out = cli(tmp_path, "flows", "run", "nope", "--input", "{bad")
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "--input" in out.stderr
    out = cli(tmp_path, "runs", "show", "no-such-run")
    assert out.returncode == 2 and "no run with id" in out.stderr
