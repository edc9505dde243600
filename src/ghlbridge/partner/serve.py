"""The demo partner app on a real socket: in a background thread (tests, scripts) or in
the current event loop (the demo, ``python -m ghlbridge.partner``).

    with serve_partner(PartnerSettings(api_key="k")) as (base_url, partner):
        ...  # flows push to base_url; partner.received("tag_details") shows what arrived
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import NamedTuple

from ghlbridge.background_server import serve_in_thread
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
    with serve_in_thread(
        app, host=host, port=port, name="partner-server", start_timeout=start_timeout
    ) as base_url:
        yield ServedPartner(base_url, served)


__all__ = ["ServedPartner", "serve_partner"]
