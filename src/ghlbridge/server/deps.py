"""Typed FastAPI dependencies shared by the routers: the server's `Services`, the admin check,
the per-source limit of the unauthenticated routes, and a size-capped body reader.

A new router (``routers/clickbank.py``, the ClickBank INS endpoint, is one) needs only
these::

    router = APIRouter()

    @router.post("/webhooks/example/{name}", dependencies=[Depends(limit_source)])
    async def receive(name: str, services: ServicesDep, body: RawBody):
        ...

and ``create_app(settings, routers=[router])``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Annotated, cast

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from limits import parse

from ghlbridge.server.services import Services

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="adminToken",
    description="The admin token `ghlbridge serve` printed at first start.",
)


def get_services(request: Request) -> Services:
    return cast(Services, request.app.state.services)


ServicesDep = Annotated[Services, Depends(get_services)]


def source_of(request: Request) -> str:
    """The peer address (the client's, when uvicorn trusts the proxy headers)."""
    return request.client.host if request.client else "unknown"


def too_many(retry_after: float) -> HTTPException:
    return HTTPException(
        status_code=429,
        detail="too many requests from this address; try again later",
        headers={"Retry-After": str(int(retry_after))},
    )


async def require_admin(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
) -> None:
    """The API's guard: ``Authorization: Bearer <admin token>``, else 401."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="authentication required: send Authorization: Bearer <admin token>",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if await asyncio.to_thread(services.admin.check, credentials.credentials):
        return
    limit = parse(services.settings.failed_login_limit)
    wait = services.limiter.hit("admin-login", source_of(request), limit=limit)
    if wait is not None:
        services.counters.limited("admin-login")
        raise too_many(wait)
    raise HTTPException(
        status_code=401, detail="invalid admin token", headers={"WWW-Authenticate": "Bearer"}
    )


AdminDep = Depends(require_admin)


def limit_source(request: Request, services: ServicesDep) -> None:
    """The per-source budget of an unauthenticated route; 429 with Retry-After when spent."""
    route = request.scope.get("route")
    scope = getattr(route, "path", request.url.path)
    wait = services.limiter.hit(scope, source_of(request))
    if wait is not None:
        services.counters.limited(scope)
        raise too_many(wait)


class BodyTooLarge(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(status_code=413, detail=f"request body larger than {limit} bytes")


async def raw_body(request: Request, services: ServicesDep) -> bytes:
    """The request body, refused (413) once it passes the size limit, before reading it all."""
    limit = services.settings.max_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise HTTPException(status_code=400, detail="invalid Content-Length")
        if int(declared) > limit:
            raise BodyTooLarge(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge(limit)
        chunks.append(chunk)
    return b"".join(chunks)


RawBody = Annotated[bytes, Depends(raw_body)]

__all__ = [
    "AdminDep",
    "BodyTooLarge",
    "RawBody",
    "ServicesDep",
    "bearer_scheme",
    "get_services",
    "limit_source",
    "raw_body",
    "require_admin",
    "source_of",
]


def store_failed(services: Services, exc: Exception, *, what: str, status: int) -> HTTPException:
    """An event that could not be stored: log why (redacted) and answer so the sender retries:
    GHL retries only a 429, ClickBank any non-2xx."""
    logging.getLogger("ghlbridge.server.ingest").error(
        "could not store %s (answering %d so the sender retries): %s: %s",
        what,
        status,
        type(exc).__name__,
        services.redactor.text(str(exc))[:300],
    )
    return HTTPException(
        status_code=status,
        detail="the event could not be stored; deliver it again later",
        headers={"Retry-After": "60"},
    )
