"""``GET /metrics``: Prometheus text (runs, failures, retries, 429s, rate budgets per
location, webhook verification failures). Admin-authenticated, like the rest of the API."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from ghlbridge.server import metrics
from ghlbridge.server.deps import AdminDep, ServicesDep

router = APIRouter(tags=["health"], dependencies=[AdminDep])


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"content": {metrics.CONTENT_TYPE: {}}, "description": "Prometheus text"}},
    summary="Prometheus metrics",
)
async def get_metrics(services: ServicesDep) -> PlainTextResponse:
    body = await asyncio.to_thread(metrics.render, services.db, services.engine, services.counters)
    return PlainTextResponse(body, media_type=metrics.CONTENT_TYPE)


__all__ = ["router"]
