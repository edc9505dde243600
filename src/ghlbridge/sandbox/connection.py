"""The socket under one ASGI request, for the faults that need it: a dropped connection and
a held answer that ends when the client gives up.

ASGI offers no way to close a connection without answering, so this reaches the server's
per-request object behind `receive` (uvicorn's request-response cycle, which holds the
asyncio transport and a `disconnected` flag; every uvicorn HTTP protocol has both). Under
any other server, or in-process, `ServerConnection.of` returns None and the caller falls
back (the sandbox raises `ConnectionDroppedFault` to the in-process client instead).
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping
from typing import Any

RAW_RECEIVE = "ghlbridge.sandbox.raw_receive"
"""The scope key under which the app keeps the server's own `receive` callable."""


class ServerConnection:
    def __init__(self, cycle: Any, transport: asyncio.Transport) -> None:
        self._cycle = cycle
        self._transport = transport

    @classmethod
    def of(cls, scope: MutableMapping[str, Any]) -> ServerConnection | None:
        cycle = getattr(scope.get(RAW_RECEIVE), "__self__", None)
        transport = getattr(cycle, "transport", None)
        if not isinstance(transport, asyncio.Transport) or not hasattr(cycle, "disconnected"):
            return None
        return cls(cycle, transport)

    @property
    def gone(self) -> bool:
        return bool(self._cycle.disconnected) or self._transport.is_closing()

    async def wait_gone(self, poll: float = 0.02) -> None:
        """Return once the client has closed the connection."""
        while not self.gone:
            await asyncio.sleep(poll)

    async def drop(self) -> None:
        """Close the connection at once, unanswered; returns when the server has noticed,
        so it neither answers a 500 nor logs an app that "returned without a response"."""
        self._transport.abort()
        for _ in range(100):
            if self._cycle.disconnected:
                return
            await asyncio.sleep(0)
