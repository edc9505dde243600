"""Errors of the generic HTTP app connector and the outbound webhook.

HttpAppError
├── HttpConfigError           an app's settings are unusable (also a ValueError)
├── BlockedAddressError       the destination is loopback/private/link-local/... (SSRF guard)
├── RedirectError             a redirect could not be followed (loop, scheme, too many)
├── HttpStatusError           the app answered with an error status (`status`, `result`)
├── OAuth2TokenError          the client-credentials token request failed
├── MappingError              a response mapping path is missing (strict mapping only)
└── WebhookSignatureError     an outbound-webhook signature does not verify

Transport failures (no HTTP answer) are the client's own `TransportError`s. Messages never
contain credentials or query strings (an API key may sit in one).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ghlbridge.connectors.errors import ConnectorError

if TYPE_CHECKING:
    from ghlbridge.connectors.http.app import HttpResult


class HttpAppError(ConnectorError):
    """A generic HTTP app call failed."""


class HttpConfigError(HttpAppError, ValueError):
    pass


class BlockedAddressError(HttpAppError):
    pass


class RedirectError(HttpAppError):
    pass


class HttpStatusError(HttpAppError):
    def __init__(self, message: str, result: HttpResult) -> None:
        super().__init__(message)
        self.status = result.status
        self.result = result


class OAuth2TokenError(HttpAppError):
    pass


class MappingError(HttpAppError, KeyError):
    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "mapping failed"


class WebhookSignatureError(HttpAppError):
    pass
