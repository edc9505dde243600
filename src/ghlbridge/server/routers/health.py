"""``GET /healthz``: liveness for load balancers and supervisors (no details, no auth)."""

from __future__ import annotations

import asyncio
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text

from ghlbridge.server.deps import ServicesDep

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    engine: Literal["running", "stopped"]


@router.get(
    "/healthz",
    response_model=Health,
    responses={503: {"model": Health, "description": "The database is unreachable"}},
    summary="Whether the server, its database and its flow engine are up",
)
async def healthz(services: ServicesDep) -> Health | JSONResponse:
    def ping() -> bool:
        try:
            with services.db.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    db_ok = await asyncio.to_thread(ping)
    health = Health(
        status="ok" if db_ok else "unavailable",
        database="ok" if db_ok else "unreachable",
        engine="running" if services.engine.running else "stopped",
    )
    if not db_ok:
        return JSONResponse(health.model_dump(), status_code=503)
    return health


__all__ = ["router"]
