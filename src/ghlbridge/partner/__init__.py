"""A built-in fake partner app ("Your App", Clienty, Rankr) for the templates' tests and the
demo: it receives what the template flows push and shows it back (``GET /received``).

A demo and test double, not a product: state lives in memory, one API key guards it.
"""

from ghlbridge.partner.app import (
    API_KEY_HEADER,
    DEFAULT_API_KEY,
    REPLAYED_HEADER,
    Partner,
    PartnerSettings,
    create_partner_app,
    partner_of,
)
from ghlbridge.partner.serve import ServedPartner, serve_partner
from ghlbridge.partner.state import KINDS, PartnerState, Received

__all__ = [
    "API_KEY_HEADER",
    "DEFAULT_API_KEY",
    "KINDS",
    "REPLAYED_HEADER",
    "Partner",
    "PartnerSettings",
    "PartnerState",
    "Received",
    "ServedPartner",
    "create_partner_app",
    "partner_of",
    "serve_partner",
]
