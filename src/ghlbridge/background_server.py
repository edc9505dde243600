"""An ASGI app served by uvicorn from a background thread with its own event loop, so sync and
async callers alike (tests, scripts, the demo) get a real socket while their loop stays free."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import uvicorn


@contextlib.contextmanager
def serve_in_thread(
    app: Any,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    name: str = "asgi-server",
    start_timeout: float = 10.0,
) -> Iterator[str]:
    """Serve `app` until the block ends; yields its base URL (port 0 picks a free one)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=name, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"{name} did not start on {host}:{bound}")
            time.sleep(0.005)
        yield f"http://{host}:{bound}"
    finally:
        server.should_exit = True
        thread.join(start_timeout)
        sock.close()
