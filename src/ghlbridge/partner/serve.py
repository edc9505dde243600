"""The demo partner app on a real socket: in a background thread (tests, scripts) or in
the current event loop (the demo, ``python -m ghlbridge.partner``).

    with serve_partner(PartnerSettings(api_key="k")) as (base_url, partner):
        ...  # flows push to base_url; partner.received("tag_details") shows what arrived
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import NamedTuple

import uvicorn

from ghlbridge.partner.app import Partner, PartnerSettings, create_partner_app


class ServedPartner(NamedTuple):
    base_url: str
    partner: Partner


@contextlib.contextmanager
def serve_partner(
    settings: PartnerSettings | None = None,
    *,
    partner: Partner | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    start_timeout: float = 10.0,
) -> Iterator[ServedPartner]:
    """Serve the partner app until the block ends; yields (base URL, partner)."""
    app = create_partner_app(settings, partner=partner)
    served: Partner = app.state.partner
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    bound = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", timeout_graceful_shutdown=5)
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="partner-server", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + start_timeout
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the partner app did not start on {host}:{bound}")
            time.sleep(0.005)
        yield ServedPartner(f"http://{host}:{bound}", served)
    finally:
        server.should_exit = True
        thread.join(start_timeout)
        sock.close()


__all__ = ["ServedPartner", "serve_partner"]
