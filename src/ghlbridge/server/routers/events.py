"""``/api/events``: stored trigger events (webhooks, hooks, polls, schedules, manual starts),
newest first, as ``ghlbridge events list`` shows them."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel

from ghlbridge.server.deps import AdminDep, ServicesDep

router = APIRouter(prefix="/api/events", tags=["events"], dependencies=[AdminDep])


class EventOut(BaseModel):
    id: str
    source: str
    type: str | None
    flow: str | None
    location_id: str | None
    dedupe_key: str | None
    payload: dict[str, Any]
    runs_created: int
    received_at: datetime


@router.get("", response_model=list[EventOut], summary="Stored trigger events, newest first")
def list_events(
    services: ServicesDep,
    source: str | None = Query(default=None, max_length=32),
    flow: str | None = Query(default=None, max_length=128),
    limit: int = Query(default=50, ge=1, le=500),
) -> list[EventOut]:
    rows = services.flow_store.list_events(limit=limit, source=source, flow=flow)
    return [EventOut(**row) for row in rows]


@router.get(
    "/{event_id}",
    response_model=EventOut,
    responses={404: {"description": "No such event"}},
    summary="One stored event",
)
def get_event(services: ServicesDep, event_id: str = Path(pattern=r"^[0-9a-f-]{36}$")) -> EventOut:
    row = services.flow_store.get_event(event_id)
    if row is None:
        raise HTTPException(status_code=404, detail=f"no event {event_id!r}")
    return EventOut(**row)


__all__ = ["EventOut", "router"]
