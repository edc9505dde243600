"""GHL-shaped error answers; every refusal the sandbox gives is a `SandboxError`.

Bodies follow GHL's shared DTOs: ``{"statusCode", "message", "error"?}``, where `message` is a
string, or a list of strings for 422 validation errors.
"""

from __future__ import annotations

from collections.abc import Mapping
from http import HTTPStatus
from typing import Any


class SandboxError(Exception):
    """An error answer with its GHL body; raised anywhere in a request, rendered once."""

    def __init__(
        self,
        status: int,
        message: str | list[str],
        error: str | None = None,
        *,
        extra: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message
        self.error = error
        self.extra = dict(extra or {})

    def body(self) -> dict[str, Any]:
        out: dict[str, Any] = {"statusCode": self.status, "message": self.message}
        if self.error:
            out["error"] = self.error
        out.update(self.extra)
        return out


def reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def invalid_token() -> SandboxError:
    return SandboxError(401, "Invalid token: access token is invalid", "Unauthorized")


def missing_scope(scope: str) -> SandboxError:
    return SandboxError(
        401, f"The token is not authorized for this scope. Missing scope: {scope}", "Unauthorized"
    )


def wrong_token_class(message: str) -> SandboxError:
    return SandboxError(401, message, "Unauthorized")


def no_location_access() -> SandboxError:
    return SandboxError(403, "The token does not have access to this location")


def no_company_access() -> SandboxError:
    return SandboxError(403, "The token does not have access to this company")


def route_not_found(method: str, path: str) -> SandboxError:
    """What GHL's NestJS router answers for a path it does not serve."""
    return SandboxError(404, f"Cannot {method} {path}", "Not Found")


def not_found(message: str) -> SandboxError:
    return SandboxError(404, message, "Not Found")


def bad_request(message: str, *, extra: Mapping[str, Any] | None = None) -> SandboxError:
    return SandboxError(400, message, "Bad Request", extra=extra)


def unprocessable(messages: list[str]) -> SandboxError:
    return SandboxError(422, messages, "Unprocessable Entity")


def too_many_requests() -> SandboxError:
    return SandboxError(429, "Too Many Requests")


def server_fault(status: int) -> SandboxError:
    return SandboxError(status, reason(status))
