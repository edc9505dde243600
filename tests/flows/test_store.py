"""The flows store on SQLite and PostgreSQL: atomic accept, dedupe by unique keys, runs
moved only by compare-and-set transitions, leases taken over after a worker dies."""

from __future__ import annotations

import time

import pytest

from ghlbridge.flows.runs import RunState, TransitionError, transition
from ghlbridge.flows.store import Claim, FlowStore, NewEvent, NewRun
from ghlbridge.store.db import begin_write


def event(**kw: object) -> NewEvent:
    return NewEvent(source="test", payload={"x": 1}, **kw)  # type: ignore[arg-type]


def test_an_event_and_its_runs_are_stored_together_and_a_redelivery_stores_nothing(
    store: FlowStore,
) -> None:
    first = store.accept(event(dedupe_key="ghl:w1"), [NewRun("f", {"a": 1}), NewRun("g", {})])
    again = store.accept(event(dedupe_key="ghl:w1"), [NewRun("f", {"a": 1})])
    assert len(first.run_ids) == 2 and not first.duplicate
    assert again.duplicate and again.event_id == first.event_id and not again.run_ids
    assert len(store.list_events()) == 1 and store.count_runs() == {"pending": 2}


def test_a_new_item_key_is_claimed_once_and_an_unclaimed_poll_event_is_not_kept(
    store: FlowStore,
) -> None:
    claim = Claim("f", "new:loc:1")
    assert store.accept(event(), [NewRun("f", {}, claim=claim)], keep_unclaimed=False).run_ids
    second = store.accept(event(), [NewRun("f", {}, claim=claim)], keep_unclaimed=False)
    assert second.event_id is None and not second.run_ids
    assert len(store.list_events()) == 1


def test_an_item_state_claim_succeeds_only_when_its_value_changes(store: FlowStore) -> None:
    def run(value: str) -> int:
        return len(
            store.accept(
                event(), [NewRun("f", {}, claim=Claim("f", "item:1", value=value))]
            ).run_ids
        )

    assert [run("v1"), run("v1"), run("v2"), run("v2"), run("v1")] == [1, 0, 1, 0, 1]


def test_a_window_claim_is_taken_again_only_after_its_window(store: FlowStore) -> None:
    claim = Claim("f", "chg:x", ttl=0.3)
    assert store.mark_seen([claim]) == 1
    assert store.mark_seen([claim]) == 0
    time.sleep(0.35)
    assert store.mark_seen([claim]) == 1
    assert store.prune_dedupe() == 0


def test_two_workers_never_claim_the_same_run(store: FlowStore) -> None:
    ids = store.accept(event(), [NewRun("f", {"i": i}) for i in range(6)]).run_ids
    a = store.claim_runs("host:1:a", 4, lease=30)
    b = store.claim_runs("host:2:b", 4, lease=30)
    assert len(a) == 4 and len(b) == 2
    assert {r.id for r in a} | {r.id for r in b} == set(ids)
    assert not {r.id for r in a} & {r.id for r in b}
    assert all(r.attempt == 1 and r.status == "running" for r in a + b)


def test_a_run_whose_lease_expired_is_taken_over_and_its_old_owner_cannot_finish_it(
    store: FlowStore,
) -> None:
    [run_id] = store.accept(event(), [NewRun("f", {})]).run_ids
    [old] = store.claim_runs("host:1:old", 1, lease=0.05)
    time.sleep(0.1)
    [new] = store.claim_runs("host:2:new", 1, lease=30)
    assert new.id == old.id == run_id and new.owner == "host:2:new"
    assert not store.move_run(
        run_id, RunState.SUCCEEDED, expect=[RunState.RUNNING], expect_owner="host:1:old"
    )
    assert store.move_run(
        run_id, RunState.SUCCEEDED, expect=[RunState.RUNNING], expect_owner="host:2:new"
    )
    assert store.get_run(run_id).status == "succeeded"  # type: ignore[union-attr]


def test_runs_of_a_dead_local_process_are_reclaimed_at_once(store: FlowStore) -> None:
    import socket

    store.accept(event(), [NewRun("f", {})])
    store.claim_runs(f"{socket.gethostname()}:999999:gone", 1, lease=300)
    assert store.claim_runs("host:2:new", 1, lease=30) == []
    assert store.reclaim_orphans() == 1
    assert len(store.claim_runs("host:2:new", 1, lease=30)) == 1


def test_the_state_machine_refuses_a_move_out_of_succeeded(store: FlowStore) -> None:
    [run_id] = store.accept(event(), [NewRun("f", {})]).run_ids
    with begin_write(store.engine) as conn, pytest.raises(TransitionError):
        transition(conn, run_id, RunState.RUNNING, expect=[RunState.SUCCEEDED])


def test_checkpoints_round_trip(store: FlowStore) -> None:
    assert store.checkpoint("poll:f") is None
    store.save_checkpoint("poll:f", {"baseline_done": True})
    store.save_checkpoint("poll:f", {"baseline_done": True, "n": 2})
    assert store.checkpoint("poll:f") == {"baseline_done": True, "n": 2}
