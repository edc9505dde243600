"""A local webhook receiver for tests: an aiohttp app on 127.0.0.1 that records every POST
(raw body and headers) and answers scripted statuses per path, and a signature checker that
verifies like GHL's SDKs do."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, padding, rsa


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    """``async with Receiver() as r:`` — `r.url("/hook")`, `r.received`, `r.answers[path]`."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answers: dict[str, list[int]] = {}
        """Statuses to answer on a path, in turn; 200 once a path's list is used up."""
        self._runner: web.AppRunner | None = None
        self.port = 0

    async def __aenter__(self) -> Receiver:
        app = web.Application()
        app.router.add_post("/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        self.received.append(
            Received(request.path, {k.lower(): v for k, v in request.headers.items()}, body)
        )
        queue = self.answers.get(request.path)
        status = queue.pop(0) if queue else 200
        return web.json_response({"ok": status < 300}, status=status)

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[Received]:
        deadline = asyncio.get_running_loop().time() + timeout
        while len(self.received) < count:
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"got {len(self.received)} webhooks, wanted {count}")
            await asyncio.sleep(0.01)
        return self.received


def verify_signatures(keys: Mapping[str, str], body: bytes, headers: Mapping[str, str]) -> None:
    """Raise `cryptography.exceptions.InvalidSignature` unless both signatures hold."""
    ed_key = serialization.load_pem_public_key(keys["ed25519"].encode())
    rsa_key = serialization.load_pem_public_key(keys["rsa"].encode())
    assert isinstance(ed_key, ed25519.Ed25519PublicKey)
    assert isinstance(rsa_key, rsa.RSAPublicKey)
    ed_key.verify(base64.b64decode(headers["x-ghl-signature"]), body)
    rsa_key.verify(
        base64.b64decode(headers["x-wh-signature"]), body, padding.PKCS1v15(), hashes.SHA256()
    )
