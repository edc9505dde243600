"""The sandbox on a real socket, for end-to-end tests over HTTP.

    with serve_sandbox(SandboxSettings(seed=1)) as (base_url, sandbox):
        client = GHLClient(sandbox.location_token.value, base_url=base_url)

uvicorn runs on 127.0.0.1 on an ephemeral port in a background thread with its own event
loop (`ghlbridge.background_server`), so it serves sync and async tests alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from ghlbridge.background_server import serve_in_thread
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
    try:
        with serve_in_thread(
            app, host=host, name="sandbox-server", start_timeout=start_timeout
        ) as base_url:
            yield ServedSandbox(base_url, served)
    finally:
        if sandbox is None:
            served.close()
