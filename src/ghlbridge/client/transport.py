"""The one small interface every HTTP exchange passes through, and its implementations.

`AiohttpTransport` is production (pooled connections, per-request timeouts). `HandlerTransport`
calls an async function directly and `ASGITransport` calls an ASGI app (the sandbox) in-process,
so tests run the real client code without sockets and without mocking the client.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

import aiohttp

from ghlbridge.client.errors import ConnectError, ConnectionDropped, RequestTimeout


@dataclass(slots=True)
class HttpRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    timeout: float | None = None


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def header(self, name: str) -> str | None:
        """Case-insensitive header look-up."""
        value = self.headers.get(name)
        if value is not None:
            return value
        lower = name.lower()
        for key, val in self.headers.items():
            if key.lower() == lower:
                return val
        return None

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body)


class Transport(Protocol):
    async def send(self, request: HttpRequest) -> HttpResponse: ...

    async def close(self) -> None: ...


class AiohttpTransport:
    """Pooled aiohttp session, created lazily inside the running loop."""

    def __init__(self, *, pool_size: int = 100, per_host: int = 0, timeout: float = 30.0) -> None:
        self._pool_size = pool_size
        self._per_host = per_host
        self._timeout = timeout
        self._session: aiohttp.ClientSession | None = None
        self._timeouts: dict[float, aiohttp.ClientTimeout] = {}

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size, limit_per_host=self._per_host, ttl_dns_cache=300
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=True,
            )
        return self._session

    def _timeout_for(self, seconds: float) -> aiohttp.ClientTimeout:
        """One ClientTimeout per distinct value, not one per request."""
        timeout = self._timeouts.get(seconds)
        if timeout is None:
            if len(self._timeouts) >= 64:
                self._timeouts.clear()
            timeout = self._timeouts[seconds] = aiohttp.ClientTimeout(total=seconds)
        return timeout

    async def send(self, request: HttpRequest) -> HttpResponse:
        session = self._get_session()
        timeout = None  # aiohttp reads None as no time limit
        if request.timeout is not None:
            timeout = (
                session.timeout  # built with the same total, once
                if request.timeout == self._timeout
                else self._timeout_for(request.timeout)
            )
        headers = request.headers
        # Never aiohttp's own User-Agent; asking it to skip one costs, so only when none is set.
        skip = None if "User-Agent" in headers or _names_user_agent(headers) else _SKIP_UA
        try:
            async with session.request(
                request.method,
                request.url,
                headers=headers,
                data=request.body,
                timeout=timeout,
                allow_redirects=False,
                skip_auto_headers=skip,
            ) as resp:
                body = await resp.read()
                return HttpResponse(resp.status, resp.headers, body)
        except aiohttp.ClientConnectorError as exc:
            raise ConnectError(f"cannot connect to {_host(request.url)}: {exc.strerror}") from exc
        except TimeoutError as exc:
            raise RequestTimeout(f"no answer from {_host(request.url)} in time") from exc
        except (aiohttp.ServerDisconnectedError, aiohttp.ClientPayloadError) as exc:
            raise ConnectionDropped(f"{_host(request.url)} dropped the connection") from exc
        except aiohttp.ClientOSError as exc:
            raise ConnectionDropped(f"{_host(request.url)}: {exc.strerror or exc}") from exc

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None


Handler = Callable[[HttpRequest], Awaitable[HttpResponse]]


class HandlerTransport:
    """Calls an async handler in-process; a handler may raise TransportError subclasses."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def send(self, request: HttpRequest) -> HttpResponse:
        if request.timeout is None:
            return await self._handler(request)
        try:
            return await asyncio.wait_for(self._handler(request), request.timeout)
        except TimeoutError as exc:
            raise RequestTimeout(f"no answer from {_host(request.url)} in time") from exc

    async def close(self) -> None:
        return None


ASGIMessage = MutableMapping[str, Any]
ASGIApp = Callable[
    [ASGIMessage, Callable[[], Awaitable[ASGIMessage]], Callable[[ASGIMessage], Awaitable[None]]],
    Awaitable[None],
]


class ASGITransport(HandlerTransport):
    """Serves requests from an ASGI app (e.g. the sandbox) without a socket."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app
        super().__init__(self._call_app)

    async def _call_app(self, request: HttpRequest) -> HttpResponse:
        parts = urlsplit(request.url)
        host = parts.hostname or "testserver"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": parts.scheme or "http",
            "path": parts.path or "/",
            "raw_path": (parts.path or "/").encode(),
            "query_string": parts.query.encode(),
            "root_path": "",
            "headers": [(k.lower().encode(), v.encode()) for k, v in request.headers.items()]
            + [(b"host", f"{host}:{port}".encode())],
            "client": ("127.0.0.1", 0),
            "server": (host, port),
        }
        body_sent = False
        status = 500
        headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def receive() -> ASGIMessage:
            nonlocal body_sent
            if body_sent:
                return {"type": "http.disconnect"}
            body_sent = True
            return {"type": "http.request", "body": request.body or b"", "more_body": False}

        async def send(message: ASGIMessage) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                for key, value in message.get("headers", []):
                    headers[key.decode("latin-1")] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self._app(scope, receive, send)
        return HttpResponse(status, headers, b"".join(chunks))


_SKIP_UA = ("User-Agent",)


def _names_user_agent(headers: Mapping[str, str]) -> bool:
    return any(name.lower() == "user-agent" for name in headers)


def _host(url: str) -> str:
    return urlsplit(url).netloc or url
