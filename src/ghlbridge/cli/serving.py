"""Runs an ASGI app on a real socket inside the current event loop (sandbox, demo)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn


class _SignalFreeServer(uvicorn.Server):
    """uvicorn leaving SIGINT/SIGTERM to its caller: when one process serves several apps
    (the demo), the first Ctrl-C must stop the whole program, not one server of it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(
    app: Any, host: str = "127.0.0.1", port: int = 0, *, signals: bool = True
) -> AsyncIterator[str]:
    """Serve `app` until the block ends; yields the base URL (port 0 picks a free one).

    `signals`: uvicorn handles SIGINT/SIGTERM (a graceful stop, then the signal again);
    False leaves them to the caller."""
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        lifespan="off",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config) if signals else _SignalFreeServer(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise RuntimeError(f"could not serve on {host}:{port}")
        await asyncio.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        await task
