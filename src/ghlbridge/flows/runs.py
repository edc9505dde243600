"""The explicit states of a run and of a step attempt, and the ONE function that moves a run.

Run states::

    pending --claim--> running --ok--> succeeded
       ^                  |--a step failed, tries left--> retrying --due--> running
       |                  |--a step failed under on_error: continue--> failed
       |                  |--tries spent / not retryable / outcome unknown--> dead
       |                  '--lease expired (the worker died)--> running (another worker)
       '------ replay (failed, dead) ------'

`dead` is the dead-letter state: nothing moves a run out of it but an explicit replay.
Step attempts are ``running`` (written before the action is called), then ``succeeded``,
``failed``, ``skipped`` (its ``if:`` was false) or ``unknown`` (a worker died while the
action was in flight and the action cannot safely be sent again: it waits for review).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import update
from sqlalchemy.engine import Connection

from ghlbridge.store.schema import flow_runs, utcnow


class RunState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    RETRYING = "retrying"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    DEAD = "dead"


class StepState(StrEnum):
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    UNKNOWN = "unknown"


FINAL_STATES = frozenset({RunState.SUCCEEDED, RunState.FAILED, RunState.DEAD})
RUNNABLE_STATES = frozenset({RunState.PENDING, RunState.RETRYING})
RUN_REPLAYABLE = frozenset({RunState.FAILED, RunState.DEAD})

ALLOWED: dict[RunState, frozenset[RunState]] = {
    RunState.PENDING: frozenset({RunState.RUNNING, RunState.DEAD}),
    RunState.RUNNING: frozenset(
        {
            RunState.RUNNING,  # taken over after its worker's lease expired
            RunState.SUCCEEDED,
            RunState.RETRYING,
            RunState.FAILED,
            RunState.DEAD,
            RunState.PENDING,  # handed back when a worker stops cleanly
        }
    ),
    RunState.RETRYING: frozenset({RunState.RUNNING, RunState.DEAD}),
    RunState.SUCCEEDED: frozenset(),
    RunState.FAILED: frozenset({RunState.PENDING}),
    RunState.DEAD: frozenset({RunState.PENDING}),
}


class TransitionError(ValueError):
    """A move the state machine does not allow (a bug, never a race: races return False)."""


def transition(
    conn: Connection,
    run_id: str,
    to: RunState,
    *,
    expect: Iterable[RunState],
    expect_owner: str | None = None,
    lease_expired_before: datetime | None = None,
    **fields: Any,
) -> bool:
    """Move run `run_id` to `to` if it is in one of the `expect` states; True if it moved.

    A compare-and-set: the UPDATE names the states (and, when given, the owner, or a lease
    that must have expired) it expects, so of two workers racing for one run exactly one
    wins. `expect_owner` limits the move to the worker holding the run. `fields` are
    other columns to set (owner, lease_until, error, attempt, ...).
    """
    expected = [RunState(s) for s in expect]
    for state in expected:
        if to not in ALLOWED[state]:
            raise TransitionError(f"run {run_id}: {state} -> {to} is not a valid transition")
    now = utcnow()
    values: dict[str, Any] = {"status": str(to), "updated_at": now, **fields}
    if to in FINAL_STATES:
        values.setdefault("finished_at", now)
        values.setdefault("owner", None)
        values.setdefault("lease_until", None)
    stmt = update(flow_runs).where(
        flow_runs.c.id == run_id, flow_runs.c.status.in_([str(s) for s in expected])
    )
    if expect_owner is not None:
        stmt = stmt.where(flow_runs.c.owner == expect_owner)
    if lease_expired_before is not None:
        stmt = stmt.where(flow_runs.c.lease_until < lease_expired_before)
    return conn.execute(stmt.values(values)).rowcount == 1


__all__ = [
    "ALLOWED",
    "FINAL_STATES",
    "RUNNABLE_STATES",
    "RUN_REPLAYABLE",
    "RunState",
    "StepState",
    "TransitionError",
    "transition",
]
