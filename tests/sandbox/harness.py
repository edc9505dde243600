"""A small harness that calls an in-process sandbox through the client's `ASGITransport`
with raw requests, so each test sees the exact wire."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, cast
from urllib.parse import urlencode

from ghlbridge.catalog import Operation, load_catalog
from ghlbridge.client.encoding import build_url, encode_body
from ghlbridge.client.transport import ASGITransport, HttpRequest, HttpResponse
from ghlbridge.sandbox import Sandbox, SandboxSettings, create_app, sandbox_of

BASE = "http://sandbox"
_UNSET: Any = object()


class Harness:
    """Sends raw requests to one sandbox app; `sb` is the sandbox behind it."""

    def __init__(self, settings: SandboxSettings) -> None:
        self.app = create_app(settings)
        self.sb: Sandbox = sandbox_of(self.app)
        self.transport = ASGITransport(cast(Any, self.app))
        self.catalog = load_catalog()

    @property
    def token(self) -> str:
        return self.sb.location_token.value

    async def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = _UNSET,
        version: str | None = "2021-07-28",
        query: Mapping[str, Any] | None = None,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> HttpResponse:
        hdrs: dict[str, str] = {"Accept": "application/json"}
        token = self.token if token is _UNSET else token
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        if version is not None:
            hdrs["Version"] = version
        body = None
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs["Content-Type"] = "application/json"
        hdrs.update(headers or {})
        url = BASE + path + (f"?{urlencode(query, doseq=True)}" if query else "")
        return await self.transport.send(HttpRequest(method, url, hdrs, body))

    async def call(
        self,
        op_id: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        token: str | None = _UNSET,
        version: str | None = _UNSET,
    ) -> HttpResponse:
        """One catalog operation, encoded as the client encodes it."""
        op = self.catalog.get(op_id)
        return await self.send_op(op, params or {}, body, token=token, version=version)

    async def send_op(
        self,
        op: Operation,
        params: Mapping[str, Any],
        body: Any,
        *,
        token: str | None = _UNSET,
        version: str | None = _UNSET,
    ) -> HttpResponse:
        hdrs: dict[str, str] = {"Accept": "application/json"}
        token = self.token if token is _UNSET else token
        if token is not None:
            hdrs["Authorization"] = f"Bearer {token}"
        version = op.version if version is _UNSET else version
        if version is not None:
            hdrs["Version"] = version
        payload, content_type = encode_body(op, body)
        if content_type:
            hdrs["Content-Type"] = content_type
        url = build_url(BASE, op, params)
        return await self.transport.send(HttpRequest(op.method, url, hdrs, payload))
