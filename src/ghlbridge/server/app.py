"""The server's app factory: `create_app(settings)` builds the services (store, vault, flow
engine, verifier, admin credential) and mounts one router per resource.

The app's lifespan runs the flow engine: on start it resumes unfinished runs and starts the
triggers (polls, schedules, catch-ups) and workers; on shutdown, after uvicorn has stopped
accepting connections and finished the requests in flight (webhook ingests included), it
stops the engine, which lets runs in progress finish or hands them back, resumable.

Another part adds its routes with ``create_app(settings, routers=[its_router])``; routers
take their dependencies from `ghlbridge.server.deps`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import cast

from fastapi import APIRouter, FastAPI

from ghlbridge import __version__
from ghlbridge.flows.engine import FlowEngine
from ghlbridge.flows.recipe import Recipe
from ghlbridge.server.errors import install_error_handlers
from ghlbridge.server.logs import AccessLog
from ghlbridge.server.routers import ALL
from ghlbridge.server.services import Services, TransportFactory, build_services
from ghlbridge.server.settings import ServerSettings
from ghlbridge.store import Vault

DESCRIPTION = """\
Self-hosted GoHighLevel integration engine.

Unauthenticated: `POST /webhooks/ghl` (GHL signatures), `POST /hooks/{flow}` (HMAC),
`POST /webhooks/clickbank/{connection}` (ClickBank INS, encrypted), `/oauth/start`,
`/oauth/callback`, `/healthz` (all rate limited per source). Everything else needs
`Authorization: Bearer <admin token>` (printed once at first start).
"""


def create_app(
    settings: ServerSettings,
    *,
    engine: FlowEngine | None = None,
    recipes: Sequence[Recipe] | None = None,
    vault: Vault | None = None,
    routers: Sequence[APIRouter] = (),
    ghl_transport: TransportFactory | None = None,
) -> FastAPI:
    """The server app. `engine` (with its store) and `vault` default to ones built from the
    settings and environment; `ghl_transport` is a test seam for reaching GHL."""
    services = build_services(
        settings, engine=engine, recipes=recipes, vault=vault, ghl_transport=ghl_transport
    )

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await services.start()
        try:
            yield
        finally:
            await services.stop()

    app = FastAPI(
        title="ghlbridge",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    install_error_handlers(app, services.redactor)
    app.add_middleware(AccessLog)
    for router in (*ALL, *routers):
        app.include_router(router)
    return app


def services_of(app: FastAPI) -> Services:
    """The services an app was built with (tests, `ghlbridge serve`)."""
    return cast(Services, app.state.services)


__all__ = ["create_app", "services_of"]
