"""Done-when: a burst of new Social Planner tags reaches a local HTTP receiver exactly once,
even though the engine (`ghlbridge serve`, a real process) is killed with SIGKILL in the
middle of the burst and started again. On SQLite and on PostgreSQL.

The sandbox and the receiver run on real ports in this process; the engine polls the
sandbox every 0.2 s (a test-only override) and holds runs under a 3 s lease. The receiver
answers 100 ms after processing a delivery, so a kill often lands between the delivery and
its record: the restarted engine sends it again with the same Idempotency-Key, and the
receiver (as the partner contract says) does not process it twice.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from ghlbridge.flows.store import FlowStore
from ghlbridge.sandbox import SandboxSettings, create_app, sandbox_of
from ghlbridge.sandbox.handlers.social_planner import add_social_tag
from ghlbridge.store import create_engine
from ghlbridge.store.schema import flow_checkpoints
from ghlbridge.store.vault import generate_key
from tests.flows.receiver import Receiver, Served, serve_in_thread
from tests.store.conftest import subprocess_env

RECIPE = """\
name: social-tags-to-receiver
description: On each new Social Planner tag, fetch its details and POST them to a receiver.
trigger:
  poll:
    op: social_media_posting.get_tags_location_id
    every: 10s
steps:
  - id: details
    action: social_media_posting.get_tags_by_ids
    with:
      locationId: "{{ trigger.locationId }}"
      tagIds: ["{{ trigger._id }}"]
  - id: push
    action: http.request
    on_error: retry
    retry: {max_attempts: 5, backoff: 0.2}
    with:
      url: "{{ env.RECEIVER_URL }}"
      json: "{{ steps.details.results.tags[0] }}"
"""
BURST = 30


@pytest.fixture
def sandbox() -> Iterator[tuple[Served, SandboxSettings]]:
    settings = SandboxSettings(seed=11, demo_records=0)
    app = create_app(settings)
    with serve_in_thread(app) as served:
        served.sandbox = sandbox_of(app)  # type: ignore[attr-defined]
        yield served, settings


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def start_engine(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "ghlbridge.cli.main", "serve"],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_burst_of_tags_reaches_the_receiver_exactly_once_across_a_sigkill(
    backend: str,
    request: pytest.FixtureRequest,
    tmp_path: Path,
    sandbox: tuple[Served, object],
) -> None:
    served, _ = sandbox
    box = served.sandbox  # type: ignore[attr-defined]
    db_url = str(request.getfixturevalue("sqlite_url" if backend == "sqlite" else "pg_url"))
    home = tmp_path / "home"
    (home / "flows").mkdir(parents=True)
    (home / "flows" / "social-tags.yaml").write_text(RECIPE)
    receiver = Receiver(delay=0.1)
    with serve_in_thread(receiver.app) as recv:
        env = subprocess_env(
            GHLBRIDGE_HOME=str(home),
            GHLBRIDGE_DATABASE_URL=db_url,
            GHLBRIDGE_SECRET_KEY=generate_key(),
            GHL_TOKEN=box.location_token.value,
            GHL_LOCATION_ID=box.location_id,
            GHL_BASE_URL=served.url,
            RECEIVER_URL=f"{recv.url}/hook",
            GHLBRIDGE_HTTP_ALLOW_PRIVATE="1",  # the receiver listens on 127.0.0.1
            GHLBRIDGE_TEST_POLL_INTERVAL="0.2",
            GHLBRIDGE_FLOW_LEASE="3",
            GHLBRIDGE_PORT="0",  # `serve` also runs the HTTP server: any free port
        )
        env.pop("GHLBRIDGE_TEST_POSTGRES_URL", None)
        log = tmp_path / "engine.log"
        db = create_engine(db_url)
        try:

            def baseline_taken() -> bool:
                try:
                    with db.connect() as conn:
                        rows = conn.execute(select(flow_checkpoints.c.value)).all()
                except Exception:
                    return False  # not migrated yet
                return any(r[0].get("baseline_done") for r in rows)

            engine = start_engine(env, log)
            try:
                wait_for(baseline_taken, 30, "the first poll")
                location = box.location()
                tags: list[str] = []
                for i in range(BURST):
                    tags.append(
                        served.call(lambda i=i: add_social_tag(location, f"burst {i}"))["_id"]
                    )
                    time.sleep(0.03)
                    if i == BURST // 2:
                        wait_for(lambda: sum(receiver.counts.values()) >= 5, 20, "deliveries")
                        engine.send_signal(signal.SIGKILL)
                        engine.wait(10)
                        engine = start_engine(env, log)
                wait_for(lambda: set(receiver.counts) >= set(tags), 45, "every tag delivered")
                store = FlowStore(db)
                wait_for(lambda: store.count_runs() == {"succeeded": BURST}, 20, "runs settled")
            finally:
                if engine.poll() is None:
                    engine.send_signal(signal.SIGTERM)
                    try:
                        engine.wait(15)
                    except subprocess.TimeoutExpired:
                        engine.kill()
            assert engine.returncode == 0, log.read_text()[-3000:]
        finally:
            db.dispose()
    assert dict(receiver.counts) == {t: 1 for t in tags}, log.read_text()[-3000:]
    assert receiver.missing_key == 0
    print(
        f"[{backend}] re-sent after the kill and answered from the key: {receiver.replayed}",
        file=sys.stderr,
    )
