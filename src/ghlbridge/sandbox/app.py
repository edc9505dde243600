"""The sandbox as an ASGI app: `create_app(settings)` for uvicorn (`ghlbridge sandbox`) and
for in-process tests through the client's `ASGITransport`.

The app is a thin Starlette shell: one catch-all route hands each request to
`Sandbox.handle`, which routes by the catalog itself (so every catalog path answers, and
GHL-shaped 404s answer the rest).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.exchange import SandboxRequest
from ghlbridge.sandbox.settings import SandboxSettings

_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "HEAD"]


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
        answer = await sandbox.handle(
            SandboxRequest(
                method=request.method,
                raw_path=path.split("?", 1)[0],
                query_string=request.url.query,
                headers={k.lower(): v for k, v in request.headers.items()},
                body=await request.body(),
                base_url=_base_url(request),
            )
        )
        return Response(answer.body, status_code=answer.status, headers=answer.headers)

    app = Starlette(routes=[Route("/{path:path}", endpoint, methods=_METHODS)])
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
