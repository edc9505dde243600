"""The flows' durable state on SQLAlchemy Core: events, runs, step attempts, checkpoints and
dedupe keys, on SQLite or PostgreSQL.

Commit points the engine relies on (each a transaction of its own):

- `accept`: an event, its dedupe claims and the runs it starts, all or nothing. A trigger
  acknowledges (a webhook answers 200, a poll moves on) only after it returns.
- `claim_runs`: runnable runs move to ``running`` under this worker's lease (compare-and-set).
- `start_attempt`: a step attempt is recorded, with its idempotency key, BEFORE its action.
- `finish_attempt`: its result (or error) after the action.
- `runs.transition`: the run's final or retry state.

Dedupe is by unique keys, never read-then-write: a claim is an INSERT that does nothing on
conflict, or a compare-and-set UPDATE (an expired window, a changed fingerprint).
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, and_, delete, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, RowMapping

from ghlbridge.flows.runs import RUNNABLE_STATES, RunState, StepState, transition
from ghlbridge.store.db import begin_write
from ghlbridge.store.schema import (
    flow_checkpoints,
    flow_dedupe,
    flow_events,
    flow_runs,
    step_attempts,
    utcnow,
)


@dataclass(frozen=True)
class Claim:
    """A change a flow must process once: `key` in the flow's `scope`.

    With `value`, the claim succeeds when the key is new or its stored value differs (an
    item's fingerprint changed); with `ttl` (seconds), when the key is new or its window
    has passed; otherwise only when the key is new.
    """

    scope: str
    key: str
    value: str | None = None
    ttl: float | None = None


@dataclass(frozen=True)
class NewEvent:
    source: str
    payload: dict[str, Any]
    type: str | None = None
    flow: str | None = None
    location_id: str | None = None
    dedupe_key: str | None = None


@dataclass(frozen=True)
class NewRun:
    flow: str
    trigger: dict[str, Any]
    location_id: str | None = None
    claim: Claim | None = None


@dataclass(frozen=True)
class Accepted:
    """What `accept` stored: the event (None if nothing needed storing) and the new runs."""

    event_id: str | None
    duplicate: bool
    run_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunRecord:
    id: str
    flow: str
    event_id: str
    location_id: str | None
    status: str
    attempt: int
    trigger: dict[str, Any]
    error: str | None
    owner: str | None
    lease_until: datetime | None
    next_attempt_at: datetime
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, row: RowMapping) -> RunRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        return out


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    run_id: str
    step_id: str
    item_index: int
    attempt: int
    status: str
    idempotency_key: str
    action: str
    idempotent: bool
    input: Any
    output: Any
    error: str | None
    started_at: datetime
    finished_at: datetime | None

    @classmethod
    def of(cls, row: RowMapping) -> AttemptRecord:
        return cls(**{name: row[name] for name in cls.__dataclass_fields__})

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            out[name] = value.isoformat() if isinstance(value, datetime) else value
        out["duration_ms"] = (
            round((self.finished_at - self.started_at).total_seconds() * 1000, 1)
            if self.finished_at
            else None
        )
        return out


def worker_id() -> str:
    """This process's owner tag for leases: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _insert_ignore(
    conn: Connection, table: Table, values: dict[str, Any], keys: Sequence[str]
) -> bool:
    """INSERT that does nothing if a row with the same `keys` exists; True if it inserted.

    Decided by RETURNING, not rowcount (psycopg reports -1 for some inserts).
    """
    name = conn.dialect.name
    if name == "sqlite":
        stmt: Any = sqlite.insert(table).values(values).on_conflict_do_nothing(index_elements=keys)
    elif name == "postgresql":
        stmt = postgresql.insert(table).values(values).on_conflict_do_nothing(index_elements=keys)
    else:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {name}")
    return conn.execute(stmt.returning(table.c[keys[0]])).first() is not None


class FlowStore:
    """Every read and write of the flows' tables; synchronous (call it from a thread)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- accepting events -----------------------------------------------------------------

    def accept(
        self, event: NewEvent, runs: Sequence[NewRun], *, keep_unclaimed: bool = True
    ) -> Accepted:
        """Store `event` and start the `runs` whose claims succeed, in ONE transaction.

        An event whose `dedupe_key` was stored before is a duplicate: nothing is written.
        With ``keep_unclaimed=False`` an event that starts no run is not kept (a poll's
        items that were all seen before).
        """
        now = utcnow()
        event_id = str(uuid.uuid4())
        with begin_write(self.engine) as conn:
            row = {
                "id": event_id,
                "source": event.source,
                "type": event.type,
                "flow": event.flow,
                "location_id": event.location_id,
                "dedupe_key": event.dedupe_key,
                "payload": event.payload,
                "runs_created": 0,
                "received_at": now,
            }
            if event.dedupe_key is not None:
                if not _insert_ignore(conn, flow_events, row, ["dedupe_key"]):
                    existing = conn.execute(
                        select(flow_events.c.id).where(flow_events.c.dedupe_key == event.dedupe_key)
                    ).scalar()
                    return Accepted(str(existing) if existing else None, True)
            else:
                conn.execute(insert(flow_events).values(row))
            run_ids: list[str] = []
            for run in runs:
                if run.claim is not None and not self._claim(conn, run.claim, event_id, now):
                    continue
                run_id = str(uuid.uuid4())
                conn.execute(
                    insert(flow_runs).values(
                        id=run_id,
                        flow=run.flow,
                        event_id=event_id,
                        location_id=run.location_id,
                        status=str(RunState.PENDING),
                        attempt=0,
                        trigger=run.trigger,
                        next_attempt_at=now,
                        created_at=now,
                        updated_at=now,
                    )
                )
                run_ids.append(run_id)
            if not run_ids and not keep_unclaimed:
                conn.execute(delete(flow_events).where(flow_events.c.id == event_id))
                return Accepted(None, False)
            if run_ids:
                conn.execute(
                    update(flow_events)
                    .where(flow_events.c.id == event_id)
                    .values(runs_created=len(run_ids))
                )
        return Accepted(event_id, False, run_ids)

    def mark_seen(
        self, claims: Iterable[Claim], *, checkpoint: tuple[str, dict[str, Any]] | None = None
    ) -> int:
        """Record claims without starting runs (a poll's first look: no history replay),
        and with `checkpoint`, save it in the same transaction."""
        now = utcnow()
        count = 0
        with begin_write(self.engine) as conn:
            for claim in claims:
                count += self._claim(conn, claim, None, now)
            if checkpoint is not None:
                self._save_checkpoint(conn, *checkpoint)
        return count

    def _claim(self, conn: Connection, claim: Claim, event_id: str | None, now: datetime) -> bool:
        expires = None if claim.ttl is None else now + timedelta(seconds=claim.ttl)
        row = {
            "scope": claim.scope,
            "key": claim.key,
            "value": claim.value,
            "event_id": event_id,
            "created_at": now,
            "expires_at": expires,
        }
        if _insert_ignore(conn, flow_dedupe, row, ["scope", "key"]):
            return True
        where = and_(flow_dedupe.c.scope == claim.scope, flow_dedupe.c.key == claim.key)
        if claim.value is not None:
            changed = or_(flow_dedupe.c.value.is_(None), flow_dedupe.c.value != claim.value)
            where = and_(where, changed)
        elif claim.ttl is not None:
            where = and_(
                where, flow_dedupe.c.expires_at.is_not(None), flow_dedupe.c.expires_at <= now
            )
        else:
            return False
        values = {
            "value": claim.value,
            "event_id": event_id,
            "created_at": now,
            "expires_at": expires,
        }
        return bool(conn.execute(update(flow_dedupe).where(where).values(values)).rowcount == 1)

    def prune_dedupe(self) -> int:
        """Forget window keys whose window has passed."""
        with begin_write(self.engine) as conn:
            result = conn.execute(
                delete(flow_dedupe).where(
                    flow_dedupe.c.expires_at.is_not(None), flow_dedupe.c.expires_at <= utcnow()
                )
            )
        return int(result.rowcount)

    # -- runs -----------------------------------------------------------------------------

    def claim_runs(
        self,
        owner: str,
        limit: int,
        lease: float,
        *,
        flows: Sequence[str] | None = None,
        run_ids: Sequence[str] | None = None,
    ) -> list[RunRecord]:
        """Move up to `limit` due runs (or runs whose worker's lease expired) to ``running``;
        only runs of `flows` (the flows this worker has loaded) or with the given ids."""
        if limit <= 0:
            return []
        now = utcnow()
        lease_until = now + timedelta(seconds=lease)
        query = select(flow_runs.c.id, flow_runs.c.status, flow_runs.c.attempt)
        if flows is not None:
            query = query.where(flow_runs.c.flow.in_(list(flows)))
        if run_ids is not None:
            query = query.where(flow_runs.c.id.in_(list(run_ids)))
        with self.engine.connect() as conn:
            due = conn.execute(
                query.where(
                    or_(
                        and_(
                            flow_runs.c.status.in_([str(s) for s in RUNNABLE_STATES]),
                            flow_runs.c.next_attempt_at <= now,
                        ),
                        and_(
                            flow_runs.c.status == str(RunState.RUNNING),
                            flow_runs.c.lease_until < now,
                        ),
                    )
                )
                .order_by(flow_runs.c.next_attempt_at, flow_runs.c.created_at)
                .limit(limit)
            ).all()
        claimed: list[str] = []
        for run_id, status, attempt in due:
            with begin_write(self.engine) as conn:
                moved = transition(
                    conn,
                    run_id,
                    RunState.RUNNING,
                    expect=[RunState(status)],
                    lease_expired_before=now if status == RunState.RUNNING else None,
                    attempt=attempt + (0 if status == RunState.RUNNING else 1),
                    owner=owner,
                    lease_until=lease_until,
                    started_at=now,
                )
            if moved:
                claimed.append(run_id)
        return [r for r in (self.get_run(i) for i in claimed) if r is not None]

    def reclaim_orphans(self) -> int:
        """Expire the leases of runs held by processes of this host that no longer exist."""
        host = socket.gethostname()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(flow_runs.c.id, flow_runs.c.owner).where(
                    flow_runs.c.status == str(RunState.RUNNING)
                )
            ).all()
        count = 0
        for run_id, owner in rows:
            parts = str(owner or "").split(":")
            if len(parts) != 3 or parts[0] != host or not parts[1].isdigit():
                continue
            if _pid_alive(int(parts[1])) and int(parts[1]) != os.getpid():
                continue
            with begin_write(self.engine) as conn:
                count += conn.execute(
                    update(flow_runs)
                    .where(flow_runs.c.id == run_id, flow_runs.c.owner == owner)
                    .values(lease_until=utcnow() - timedelta(seconds=1))
                ).rowcount
        return count

    def renew_leases(self, owner: str, run_ids: Sequence[str], lease: float) -> None:
        if not run_ids:
            return
        with begin_write(self.engine) as conn:
            conn.execute(
                update(flow_runs)
                .where(flow_runs.c.id.in_(list(run_ids)), flow_runs.c.owner == owner)
                .values(lease_until=utcnow() + timedelta(seconds=lease))
            )

    def move_run(
        self,
        run_id: str,
        to: RunState,
        *,
        expect: Iterable[RunState],
        expect_owner: str | None = None,
        **fields: Any,
    ) -> bool:
        with begin_write(self.engine) as conn:
            return transition(conn, run_id, to, expect=expect, expect_owner=expect_owner, **fields)

    def get_run(self, run_id: str) -> RunRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_runs).where(flow_runs.c.id == run_id)).first()
        return RunRecord.of(row._mapping) if row else None

    def find_run(self, prefix: str) -> RunRecord | None:
        """A run by id or by a unique id prefix (as `runs show` accepts)."""
        run = self.get_run(prefix)
        if run is not None:
            return run
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(flow_runs).where(flow_runs.c.id.startswith(prefix, autoescape=True)).limit(2)
            ).all()
        return RunRecord.of(rows[0]._mapping) if len(rows) == 1 else None

    def list_runs(
        self, *, status: str | None = None, flow: str | None = None, limit: int = 50
    ) -> list[RunRecord]:
        query = select(flow_runs).order_by(flow_runs.c.created_at.desc()).limit(limit)
        if status:
            query = query.where(flow_runs.c.status == status)
        if flow:
            query = query.where(flow_runs.c.flow == flow)
        with self.engine.connect() as conn:
            return [RunRecord.of(r._mapping) for r in conn.execute(query).all()]

    def count_runs(self, *, status: str | None = None) -> dict[str, int]:
        query = select(flow_runs.c.status, func.count()).group_by(flow_runs.c.status)
        if status:
            query = query.where(flow_runs.c.status == status)
        with self.engine.connect() as conn:
            return {str(s): int(n) for s, n in conn.execute(query).all()}

    # -- step attempts --------------------------------------------------------------------

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(step_attempts)
                .where(step_attempts.c.run_id == run_id)
                .order_by(step_attempts.c.id)
            ).all()
        return [AttemptRecord.of(r._mapping) for r in rows]

    def start_attempt(
        self,
        *,
        run_id: str,
        step_id: str,
        item_index: int,
        attempt: int,
        idempotency_key: str,
        action: str,
        idempotent: bool,
        input: Any,
    ) -> int:
        with begin_write(self.engine) as conn:
            result = conn.execute(
                insert(step_attempts).values(
                    run_id=run_id,
                    step_id=step_id,
                    item_index=item_index,
                    attempt=attempt,
                    status=str(StepState.RUNNING),
                    idempotency_key=idempotency_key,
                    action=action,
                    idempotent=idempotent,
                    input=input,
                    started_at=utcnow(),
                )
            )
            key = result.inserted_primary_key
        assert key is not None
        return int(key[0])

    def record_skipped(self, *, run_id: str, step_id: str, key: str, action: str) -> None:
        """A step whose ``if:`` was false: recorded so a resumed run skips it alike."""
        now = utcnow()
        with begin_write(self.engine) as conn:
            _insert_ignore(
                conn,
                step_attempts,
                {
                    "run_id": run_id,
                    "step_id": step_id,
                    "item_index": 0,
                    "attempt": 1,
                    "status": str(StepState.SKIPPED),
                    "idempotency_key": key,
                    "action": action,
                    "idempotent": True,
                    "started_at": now,
                    "finished_at": now,
                },
                ["run_id", "step_id", "item_index", "attempt"],
            )

    def finish_attempt(
        self, attempt_id: int, status: StepState, *, output: Any = None, error: str | None = None
    ) -> None:
        with begin_write(self.engine) as conn:
            conn.execute(
                update(step_attempts)
                .where(step_attempts.c.id == attempt_id)
                .values(status=str(status), output=output, error=error, finished_at=utcnow())
            )

    # -- checkpoints ----------------------------------------------------------------------

    def checkpoint(self, key: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            value = conn.execute(
                select(flow_checkpoints.c.value).where(flow_checkpoints.c.key == key)
            ).scalar()
        return dict(value) if isinstance(value, dict) else None

    def save_checkpoint(self, key: str, value: dict[str, Any]) -> None:
        with begin_write(self.engine) as conn:
            self._save_checkpoint(conn, key, value)

    def _save_checkpoint(self, conn: Connection, key: str, value: dict[str, Any]) -> None:
        now = utcnow()
        updated = conn.execute(
            update(flow_checkpoints)
            .where(flow_checkpoints.c.key == key)
            .values(value=value, updated_at=now)
        ).rowcount
        if not updated:
            _insert_ignore(
                conn, flow_checkpoints, {"key": key, "value": value, "updated_at": now}, ["key"]
            )

    # -- events ---------------------------------------------------------------------------

    def list_events(
        self, *, limit: int = 50, source: str | None = None, flow: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(flow_events).order_by(flow_events.c.received_at.desc()).limit(limit)
        if source:
            query = query.where(flow_events.c.source == source)
        if flow:
            query = query.where(flow_events.c.flow == flow)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        out = []
        for row in rows:
            data = dict(row._mapping)
            data["received_at"] = data["received_at"].isoformat()
            out.append(data)
        return out

    def get_event(self, event_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(flow_events).where(flow_events.c.id == event_id)).first()
        return dict(row._mapping) if row else None


__all__ = [
    "Accepted",
    "AttemptRecord",
    "Claim",
    "FlowStore",
    "NewEvent",
    "NewRun",
    "RunRecord",
    "worker_id",
]
