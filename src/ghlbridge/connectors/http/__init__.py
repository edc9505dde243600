"""Any REST app over HTTP (auth presets, SSRF guard, response mapping), and outbound webhooks."""

from ghlbridge.connectors.http.app import (
    HttpApp,
    HttpAppClient,
    HttpResult,
    expand_path,
    map_response,
)
from ghlbridge.connectors.http.auth import (
    PRESETS,
    ApiKeyAuth,
    AuthPreset,
    BasicAuth,
    BearerAuth,
    ClientCredentialsTokens,
    HmacAuth,
    OAuth2ClientCredentials,
    hmac_signature,
)
from ghlbridge.connectors.http.errors import (
    BlockedAddressError,
    HttpAppError,
    HttpConfigError,
    HttpStatusError,
    MappingError,
    OAuth2TokenError,
    RedirectError,
    WebhookSignatureError,
)
from ghlbridge.connectors.http.ssrf import AddressPolicy, GuardedTransport, blocked_reason
from ghlbridge.connectors.http.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    OutboundWebhook,
    sign_outbound,
    verify_outbound_signature,
)

__all__ = [
    "DELIVERY_HEADER",
    "PRESETS",
    "SIGNATURE_HEADER",
    "AddressPolicy",
    "ApiKeyAuth",
    "AuthPreset",
    "BasicAuth",
    "BearerAuth",
    "BlockedAddressError",
    "ClientCredentialsTokens",
    "GuardedTransport",
    "HmacAuth",
    "HttpApp",
    "HttpAppClient",
    "HttpAppError",
    "HttpConfigError",
    "HttpResult",
    "HttpStatusError",
    "MappingError",
    "OAuth2ClientCredentials",
    "OAuth2TokenError",
    "OutboundWebhook",
    "RedirectError",
    "WebhookSignatureError",
    "blocked_reason",
    "expand_path",
    "hmac_signature",
    "map_response",
    "sign_outbound",
    "verify_outbound_signature",
]
