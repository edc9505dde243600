"""Runs the server app under uvicorn inside the current event loop: for `ghlbridge serve`
(until SIGTERM/SIGINT) and for end-to-end tests (for the length of a block).

Shutdown is uvicorn's graceful one, then the app's lifespan: stop accepting connections,
let requests in flight finish (webhook ingests commit before they answer), then stop the
flow engine (runs in progress finish within its drain time or are handed back, resumable).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass

import uvicorn
from fastapi import FastAPI

from ghlbridge.server.app import services_of


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers (it would re-raise the signal on exit)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class RunningServer:
    url: str
    server: uvicorn.Server

    def stop(self, *, force: bool = False) -> None:
        """Begin a graceful shutdown (`force`: do not wait for connections)."""
        if force or self.server.should_exit:
            self.server.force_exit = True
        self.server.should_exit = True


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


@contextlib.asynccontextmanager
async def running(
    app: FastAPI,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    graceful_timeout: float = 30.0,
    proxy_headers: bool = True,
    forwarded_allow_ips: str | None = None,
) -> AsyncIterator[RunningServer]:
    """Serve `app` (lifespan included) until the block ends; yields its URL and server.

    Port 0 picks a free port; the app's public URL then follows the real one unless the
    settings name a public URL.
    """
    sock = _bind(host, port)
    bound = sock.getsockname()[1]
    services = services_of(app)
    if services.settings.port != bound and not services.settings.public_url:
        services.settings = services.settings.with_(port=bound)
    config = uvicorn.Config(
        app,
        lifespan="on",
        access_log=False,
        log_config=None,
        timeout_graceful_shutdown=int(graceful_timeout),
        proxy_headers=proxy_headers,
        forwarded_allow_ips=forwarded_allow_ips,
    )
    server = _Server(config)
    task = asyncio.create_task(_serve(server, sock), name="ghlbridge-server")
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError(f"the server did not start on {host}:{bound}")
            await asyncio.sleep(0.01)
        shown = f"[{host}]" if ":" in host else host
        yield RunningServer(f"http://{shown}:{bound}", server)
    finally:
        server.should_exit = True
        try:
            await task
        finally:
            sock.close()


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits this way when the app's startup fails
        raise RuntimeError("the server's startup failed (see the log above)") from exc


async def serve_until_signalled(
    app: FastAPI,
    host: str,
    port: int,
    *,
    on_started: Callable[[RunningServer], None] | None = None,
    graceful_timeout: float = 30.0,
) -> None:
    """Serve until SIGTERM or SIGINT (a second one stops without waiting)."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with running(app, host, port, graceful_timeout=graceful_timeout) as served:
            if on_started is not None:
                on_started(served)
            stopping = asyncio.create_task(stop.wait())
            serving = asyncio.create_task(_until_exit(served.server))
            await asyncio.wait([stopping, serving], return_when=asyncio.FIRST_COMPLETED)
            served.stop()
            if not serving.done():
                stop.clear()
                for sig in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(sig, lambda: served.stop(force=True))
            stopping.cancel()
            serving.cancel()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


async def _until_exit(server: uvicorn.Server) -> None:
    while not server.should_exit:
        await asyncio.sleep(0.1)


__all__ = ["RunningServer", "running", "serve_until_signalled"]
