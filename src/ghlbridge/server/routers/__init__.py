"""One router per resource; `ALL` is what `create_app` mounts, in this order."""

from fastapi import APIRouter

from ghlbridge.server.routers import (
    catalog,
    clickbank,
    connections,
    events,
    flows,
    health,
    hooks,
    metrics,
    oauth,
    runs,
    webhooks,
)

ALL: tuple[APIRouter, ...] = (
    health.router,
    webhooks.router,
    hooks.router,
    clickbank.router,
    oauth.router,
    oauth.api,
    connections.router,
    flows.router,
    runs.router,
    events.router,
    catalog.router,
    metrics.router,
)

__all__ = ["ALL"]
