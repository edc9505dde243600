"""A faithful offline GHL: every catalog operation, GHL's auth, limits and errors, real state
for the core resources and schema-shaped answers for the rest.

    app = create_app(SandboxSettings(seed=1))
    client = GHLClient(sandbox_of(app).location_token.value, transport=ASGITransport(app))
"""

from ghlbridge.sandbox.app import create_app, sandbox_of
from ghlbridge.sandbox.core import Sandbox
from ghlbridge.sandbox.errors import SandboxError
from ghlbridge.sandbox.exchange import Call, Handler, Reply, SandboxRequest, SandboxResponse
from ghlbridge.sandbox.faults import ConnectionDroppedFault
from ghlbridge.sandbox.settings import Burst429, RateLimit, SandboxSettings
from ghlbridge.sandbox.state import Change, LocationState, ResourceSpec, World
from ghlbridge.sandbox.tokens import OAuthClient, Token, TokenPair, TokenRegistry
from ghlbridge.sandbox.webhooks import Delivery, EventRule, Webhooks

__all__ = [
    "Burst429",
    "Call",
    "Change",
    "ConnectionDroppedFault",
    "Delivery",
    "EventRule",
    "Handler",
    "LocationState",
    "OAuthClient",
    "RateLimit",
    "Reply",
    "ResourceSpec",
    "Sandbox",
    "SandboxError",
    "SandboxRequest",
    "SandboxResponse",
    "SandboxSettings",
    "Token",
    "TokenPair",
    "TokenRegistry",
    "Webhooks",
    "World",
    "create_app",
    "sandbox_of",
]
