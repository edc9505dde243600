"""A local HTTP app for the generic connector's tests, on 127.0.0.1 (ephemeral port).

ANY  /echo/{tail}        {method, path, query (lists), headers, body}
POST /oauth/token        client credentials -> {access_token, expires_in}; counted
GET  /protected          needs a Bearer token the token endpoint issued and not revoked
ANY  /flaky              503 for the next `flaky` requests, then /echo
ANY  /redirect           302 (or ?code=) to ?to=<url>
ANY  /loop               302 to itself, for ever
"""

from __future__ import annotations

import asyncio
import base64
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class AppServer:
    client_id: str = "cid"
    client_secret: str = "csecret-123"
    expires_in: int = 3600
    token_delay: float = 0.05  # keeps concurrent callers overlapping a token fetch
    flaky: int = 0
    token_requests: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    issued: list[str] = field(default_factory=list)
    revoked: set[str] = field(default_factory=set)
    base_url: str = ""
    port: int = 0
    _runner: web.AppRunner | None = None

    async def __aenter__(self) -> AppServer:
        app = web.Application()
        app.router.add_post("/oauth/token", self._token)
        app.router.add_get("/protected", self._protected)
        app.router.add_route("*", "/flaky", self._flaky)
        app.router.add_route("*", "/redirect", self._redirect)
        app.router.add_route("*", "/loop", self._loop)
        app.router.add_route("*", "/echo{tail:.*}", self._echo)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _echo(self, request: web.Request) -> web.Response:
        body = await request.read()
        seen = {
            "method": request.method,
            "path": request.raw_path.split("?")[0],
            "query": {k: request.query.getall(k) for k in request.query},
            "headers": dict(request.headers),
            "body": body.decode("utf-8", errors="replace"),
        }
        self.requests.append(seen)
        return web.json_response(seen, headers={"X-Request-Count": str(len(self.requests))})

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            cid, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
        else:
            cid, secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
        self.token_requests.append({"form": dict(form), "basic": auth.startswith("Basic ")})
        await asyncio.sleep(self.token_delay)
        if form.get("grant_type") != "client_credentials" or (cid, secret) != (
            self.client_id,
            self.client_secret,
        ):
            return web.json_response(
                {"error": "invalid_client", "error_description": "bad client credentials"},
                status=401,
            )
        token = f"tok-{len(self.issued) + 1}"
        self.issued.append(token)
        return web.json_response(
            {"access_token": token, "token_type": "bearer", "expires_in": self.expires_in}
        )

    async def _protected(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.requests.append({"path": "/protected", "token": token})
        if token not in self.issued or token in self.revoked:
            return web.json_response({"message": "invalid token"}, status=401)
        return web.json_response({"ok": True, "token": token})

    async def _flaky(self, request: web.Request) -> web.Response:
        if self.flaky:
            self.flaky -= 1
            self.requests.append(
                {"path": "/flaky", "status": 503, "headers": dict(request.headers)}
            )
            return web.json_response({"message": "try later"}, status=503)
        return await self._echo(request)

    async def _redirect(self, request: web.Request) -> web.Response:
        self.requests.append({"path": "/redirect", "method": request.method})
        code = int(request.query.get("code", "302"))
        return web.Response(status=code, headers={"Location": request.query["to"]})

    async def _loop(self, request: web.Request) -> web.Response:
        self.requests.append({"path": "/loop"})
        return web.Response(status=302, headers={"Location": "/loop"})
