"""The GHL API client: one request path over a pluggable transport."""

from ghlbridge.client.client import DEFAULT_BASE_URL, ClientStats, GHLClient
from ghlbridge.client.errors import (
    APIError,
    AuthError,
    BadRequestError,
    ConnectError,
    ConnectionDropped,
    DailyLimitExceeded,
    ForbiddenError,
    GHLError,
    NotFoundError,
    OAuthError,
    PagingError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from ghlbridge.client.sync import SyncGHLClient
from ghlbridge.client.transport import (
    AiohttpTransport,
    ASGITransport,
    HandlerTransport,
    HttpRequest,
    HttpResponse,
    Transport,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "APIError",
    "ASGITransport",
    "AiohttpTransport",
    "AuthError",
    "BadRequestError",
    "ClientStats",
    "ConnectError",
    "ConnectionDropped",
    "DailyLimitExceeded",
    "ForbiddenError",
    "GHLClient",
    "GHLError",
    "HandlerTransport",
    "HttpRequest",
    "HttpResponse",
    "NotFoundError",
    "OAuthError",
    "PagingError",
    "RateLimitError",
    "RequestTimeout",
    "ServerError",
    "SyncGHLClient",
    "Transport",
    "TransportError",
    "ValidationError",
]
