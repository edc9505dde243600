"""The sandbox as an ASGI app: `create_app(settings)` for uvicorn (`ghlbridge sandbox`) and
for in-process tests through the client's `ASGITransport`.

The app is a thin Starlette shell: one catch-all route hands each request to
`Sandbox.handle`, which routes by the catalog itself (so every catalog path answers, and
GHL-shaped 404s answer the rest). Before it: the marketplace's authorize page
(`authorize.py`) and the sandbox's own ``/.sandbox/`` endpoints (`admin.py`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ghlbridge.sandbox.admin import admin_routes
from ghlbridge.sandbox.authorize import AUTHORIZE_PATHS, choose_location
from ghlbridge.sandbox.connection import RAW_RECEIVE, ServerConnection
from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.errors import SandboxError
from ghlbridge.sandbox.exchange import SandboxRequest
from ghlbridge.sandbox.faults import ConnectionDroppedFault
from ghlbridge.sandbox.settings import SandboxSettings

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


class SandboxApp(Starlette):
    """Starlette, keeping the server's own `receive` in the scope (see `connection.py`)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            scope[RAW_RECEIVE] = receive
        await super().__call__(scope, receive, send)


class _NoAnswer(Response):
    """What a dropped connection answers: nothing at all."""

    def __init__(self) -> None:
        super().__init__(status_code=499)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        return None


def create_app(
    settings: SandboxSettings | None = None, *, sandbox: Sandbox | None = None
) -> Starlette:
    """An ASGI app serving a new `Sandbox` built from `settings` (or the given `sandbox`).

    The sandbox is reachable as `app.state.sandbox` (or `sandbox_of(app)`) for its tokens,
    ids and data.
    """
    if sandbox is None:
        sandbox = Sandbox(settings or SandboxSettings())
    elif settings is not None and settings is not sandbox.settings:
        raise ValueError("pass settings or a sandbox, not both")

    async def endpoint(request: Request) -> Response:
        raw_path = request.scope.get("raw_path")
        path = raw_path.decode("latin-1") if raw_path else request.url.path
        conn = ServerConnection.of(request.scope)
        try:
            answer = await sandbox.handle(
                SandboxRequest(
                    method=request.method,
                    raw_path=path.split("?", 1)[0],
                    query_string=request.url.query,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=await request.body(),
                    base_url=_base_url(request),
                ),
                client_gone=conn.wait_gone if conn else None,
            )
        except ConnectionDroppedFault:
            if conn is None:
                raise  # in-process: the client's transport sees the drop as this exception
            await conn.drop()
            return _NoAnswer()
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    async def authorize(request: Request) -> Response:
        try:
            target = choose_location(sandbox, request.query_params)
        except SandboxError as exc:
            return JSONResponse(exc.body(), status_code=exc.status)
        return RedirectResponse(target, status_code=302)

    routes = [
        *(Route(path, authorize, methods=["GET"]) for path in AUTHORIZE_PATHS),
        *admin_routes(sandbox),
        Route("/{path:path}", endpoint, methods=_METHODS),
    ]
    app = SandboxApp(routes=routes)
    app.state.sandbox = sandbox
    return app


def _base_url(request: Request) -> str:
    """Scheme and host as the caller addressed us, without a default port."""
    url = request.url
    default = {"http": 80, "https": 443}.get(url.scheme)
    host = url.hostname or "localhost"
    host = f"[{host}]" if ":" in host else host
    port = "" if url.port in (None, default) else f":{url.port}"
    return f"{url.scheme}://{host}{port}"


def sandbox_of(app: Starlette) -> Sandbox:
    """The `Sandbox` behind an app made by `create_app`."""
    sandbox = app.state.sandbox
    if not isinstance(sandbox, Sandbox):
        raise TypeError("not a sandbox app")
    return sandbox
