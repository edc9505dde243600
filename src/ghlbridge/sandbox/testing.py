"""The sandbox on a real socket, for end-to-end tests over HTTP.

    with serve_sandbox(SandboxSettings(seed=1)) as (base_url, sandbox):
        client = GHLClient(sandbox.location_token.value, base_url=base_url)

uvicorn runs on 127.0.0.1 on an ephemeral port in a background thread with its own event
loop, so it serves sync and async tests alike (the test's loop stays free).
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import uvicorn

from ghlbridge.sandbox.app import create_app, sandbox_of
from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.settings import SandboxSettings


class ServedSandbox(NamedTuple):
    base_url: str
    sandbox: Sandbox


@contextlib.contextmanager
def serve_sandbox(
    settings: SandboxSettings | None = None,
    *,
    sandbox: Sandbox | None = None,
    host: str = "127.0.0.1",
    start_timeout: float = 10.0,
) -> Iterator[ServedSandbox]:
    """Serve a new sandbox (or `sandbox`) until the block ends; yields (base URL, sandbox).

    A sandbox made here is closed (webhook sender stopped) at the end; a given one is not.
    """
    app = create_app(settings, sandbox=sandbox)
    served = sandbox_of(app)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="sandbox-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the sandbox did not start on {host}:{port}")
            time.sleep(0.005)
        yield ServedSandbox(f"http://{host}:{port}", served)
    finally:
        server.should_exit = True
        thread.join(start_timeout)
        sock.close()
        if sandbox is None:
            served.close()
