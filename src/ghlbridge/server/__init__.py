"""The HTTP server: GHL webhook ingress, inbound hooks, the OAuth install flow and the REST
API over the flow engine, the store and the catalog.

    app = create_app(ServerSettings.from_env())
"""

from ghlbridge.server.app import create_app, services_of
from ghlbridge.server.services import Services
from ghlbridge.server.settings import ServerSettings, SettingsError
from ghlbridge.server.verify import VerificationError, WebhookVerifier

__all__ = [
    "ServerSettings",
    "Services",
    "SettingsError",
    "VerificationError",
    "WebhookVerifier",
    "create_app",
    "services_of",
]
