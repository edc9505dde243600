"""``/api/runs``: what flows did (filtered, newest first), one run with every step attempt,
and replaying a failed or dead run (its succeeded steps are kept)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from ghlbridge.flows.runs import RUN_REPLAYABLE, RunState
from ghlbridge.flows.store import AttemptRecord, RunRecord
from ghlbridge.server.deps import AdminDep, ServicesDep
from ghlbridge.server.services import Services

router = APIRouter(prefix="/api/runs", tags=["runs"], dependencies=[AdminDep])
RunStatus = Literal["pending", "running", "retrying", "succeeded", "failed", "dead"]
RunPath = Path(pattern=r"^[0-9a-f-]{4,36}$", description="Run id, or a unique prefix of at least 4")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such run (or the prefix is not unique)"}
}


class RunOut(BaseModel):
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


class AttemptOut(BaseModel):
    id: int
    step_id: str
    item_index: int
    attempt: int
    status: str
    action: str
    idempotent: bool
    idempotency_key: str
    input: Any = Field(description="Inputs, secrets masked")
    output: Any = Field(description="Output, secrets masked")
    error: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_ms: float | None


class RunDetail(RunOut):
    attempts: list[AttemptOut]


class ReplayOut(BaseModel):
    id: str
    status: str
    flow_enabled: bool = Field(description="False: the run waits until its flow is enabled")


def run_out(run: RunRecord) -> RunOut:
    return RunOut(**{name: getattr(run, name) for name in RunOut.model_fields})


def attempt_out(attempt: AttemptRecord) -> AttemptOut:
    data = attempt.to_dict()
    return AttemptOut(**{name: data[name] for name in AttemptOut.model_fields})


@router.get("", response_model=list[RunOut], summary="Runs, newest first")
def list_runs(
    services: ServicesDep,
    status: RunStatus | None = Query(default=None),
    flow: str | None = Query(default=None, max_length=128),
    limit: int = Query(default=50, ge=1, le=500),
) -> list[RunOut]:
    runs = services.flow_store.list_runs(status=status, flow=flow, limit=limit)
    return [run_out(r) for r in runs]


def _find(services: Services, run_id: str) -> RunRecord:
    run = services.flow_store.find_run(run_id)
    if run is None:
        raise HTTPException(status_code=404, detail=f"no run with id (or unique prefix) {run_id!r}")
    return run


@router.get(
    "/{run_id}",
    response_model=RunDetail,
    responses=_NOT_FOUND,
    summary="A run, its trigger data and every step attempt",
)
def show_run(services: ServicesDep, run_id: str = RunPath) -> RunDetail:
    run = _find(services, run_id)
    attempts = [attempt_out(a) for a in services.flow_store.attempts(run.id)]
    return RunDetail(**run_out(run).model_dump(), attempts=attempts)


@router.post(
    "/{run_id}/replay",
    status_code=202,
    response_model=ReplayOut,
    responses={**_NOT_FOUND, 409: {"description": "Only failed or dead runs are replayed"}},
    summary="Run a failed or dead run again (succeeded steps are kept)",
)
def replay_run(services: ServicesDep, run_id: str = RunPath) -> ReplayOut:
    run = _find(services, run_id)
    if run.status not in RUN_REPLAYABLE:
        raise HTTPException(
            status_code=409,
            detail=f"run {run.id} is {run.status}; only failed or dead runs are replayed",
        )
    moved = services.flow_store.move_run(
        run.id, RunState.PENDING, expect=[RunState(run.status)], error=None, finished_at=None
    )
    if not moved:
        raise HTTPException(status_code=409, detail=f"run {run.id} changed state meanwhile")
    return ReplayOut(id=run.id, status="pending", flow_enabled=services.flow_enabled(run.flow))


__all__ = ["RunDetail", "RunOut", "attempt_out", "router", "run_out"]
