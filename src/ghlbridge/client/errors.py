"""Typed errors of the client, and the one place that maps an HTTP answer to an exception.

GHLError
├── ValidationError          bad input caught before sending (op and field named)
├── TransportError           no usable HTTP answer
│   ├── ConnectError         the request never left (safe to retry any method)
│   ├── RequestTimeout       no answer in time (the server may have acted)
│   └── ConnectionDropped    the connection broke mid-exchange (the server may have acted)
├── PagingError              a server answer would make paging loop
├── OAuthError               token exchange or refresh failed
└── APIError                 GHL answered with an error status
    ├── BadRequestError      400, 422
    ├── AuthError            401 (``missing_scope`` when GHL names one)
    ├── ForbiddenError       403
    ├── NotFoundError        404
    ├── RateLimitError       429 (``retry_after`` seconds when known)
    │   └── DailyLimitExceeded   the per-day budget is spent
    └── ServerError          5xx
"""

from __future__ import annotations

import json
import re
from typing import Any


class GHLError(Exception):
    """Root of every error the client raises."""


class ValidationError(GHLError, ValueError):
    def __init__(self, op_id: str, field: str, problem: str) -> None:
        super().__init__(f"{op_id}: {field}: {problem}")
        self.op_id = op_id
        self.field = field
        self.problem = problem


class TransportError(GHLError):
    pass


class ConnectError(TransportError):
    pass


class RequestTimeout(TransportError):
    pass


class ConnectionDropped(TransportError):
    pass


class PagingError(GHLError):
    pass


class OAuthError(GHLError):
    pass


class APIError(GHLError):
    """GHL answered with an error status; carries what it said."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        op_id: str | None = None,
        trace_id: str | None = None,
        body: Any = None,
    ) -> None:
        where = f"{op_id}: " if op_id else ""
        super().__init__(f"{where}HTTP {status}: {message}")
        self.status = status
        self.message = message
        self.op_id = op_id
        self.trace_id = trace_id
        self.body = body


class BadRequestError(APIError):
    pass


class AuthError(APIError):
    def __init__(self, status: int, message: str, **kw: Any) -> None:
        super().__init__(status, message, **kw)
        self.missing_scope = _scope_in(message)


class ForbiddenError(APIError):
    pass


class NotFoundError(APIError):
    pass


class RateLimitError(APIError):
    def __init__(self, status: int, message: str, *, retry_after: float | None = None, **kw: Any):
        super().__init__(status, message, **kw)
        self.retry_after = retry_after


class DailyLimitExceeded(RateLimitError):
    pass


class ServerError(APIError):
    pass


_SCOPE = re.compile(r"\b([a-z][a-zA-Z]*(?:/[a-zA-Z]+)?\.(?:readonly|write|read|[a-zA-Z-]+))\b")


def _scope_in(message: str) -> str | None:
    """GHL's 401 for a missing scope says e.g. 'The token is not authorized for this scope.'."""
    if "scope" not in message.lower():
        return None
    match = _SCOPE.search(message)
    return match.group(1) if match else None


def error_message(body: Any, fallback: str) -> str:
    """GHL's `message` is a string or a list of strings; anything else falls back."""
    if isinstance(body, dict):
        msg = body.get("message") or body.get("error")
        if isinstance(msg, list):
            return ", ".join(str(m) for m in msg)
        if isinstance(msg, dict):
            return json.dumps(msg)
        if msg:
            return str(msg)
    return fallback


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthError,
    403: ForbiddenError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def api_error(
    status: int,
    body: Any,
    *,
    op_id: str | None = None,
    retry_after: float | None = None,
    scopes: tuple[str, ...] = (),
) -> APIError:
    """Build the typed error for an error answer; a 401 names the op's scopes when GHL does not."""
    message = error_message(body, f"HTTP {status}")
    trace_id = body.get("traceId") if isinstance(body, dict) else None
    if status == 429:
        return RateLimitError(
            status, message, retry_after=retry_after, op_id=op_id, trace_id=trace_id, body=body
        )
    cls = _BY_STATUS.get(status, ServerError if status >= 500 else APIError)
    err = cls(status, message, op_id=op_id, trace_id=trace_id, body=body)
    if isinstance(err, AuthError) and err.missing_scope is None and "scope" in message.lower():
        err.missing_scope = " ".join(scopes) or None
        if scopes:
            err.args = (f"{err.args[0]} (this operation needs scope: {' or '.join(scopes)})",)
    return err
