"""ClickBank's errors: reading an INS notification, and calling the REST API.

InsError (also a ValueError)      an INS body could not be turned into a notification
├── BadSecretKey                  the configured secret key is unusable (empty)
├── BadEnvelope                   the body is not {"notification": str, "iv": str}
├── BadBase64                     `notification` or `iv` is not valid base64
├── BadIV                         the IV does not decode to 16 bytes
├── WrongKeyOrCorrupt             decryption gave no text: wrong secret key, or damaged data
├── NotJSON                       decryption gave text that is not a JSON object
└── MissingFields                 the JSON lacks `receipt` or `transactionType`

ClickBankError                    a REST API call failed (`status` is None before sending)
├── ClickBankRequestError         unknown action, missing or unknown parameter (not sent)
├── ClickBankPagingError          the server's paging would never end
└── ClickBankAPIError             ClickBank answered with an error status
    ├── ClickBankAuthError        401, or a 403 that is not a rate limit
    ├── ClickBankNotFoundError    404
    ├── ClickBankRateLimitError   429, or a 403 whose text says a limit was hit
    └── ClickBankServerError      5xx

Messages are one line and never contain a secret key, an API key or decrypted content.
Transport failures (no HTTP answer) are the client's own `TransportError`s.
"""

from __future__ import annotations

from collections.abc import Sequence

from ghlbridge.connectors.errors import ConnectorError


class InsError(ConnectorError, ValueError):
    """An INS notification body could not be decrypted or read."""


class BadSecretKey(InsError):
    pass


class BadEnvelope(InsError):
    pass


class BadBase64(InsError):
    pass


class BadIV(InsError):
    pass


class WrongKeyOrCorrupt(InsError):
    pass


class NotJSON(InsError):
    pass


class MissingFields(InsError):
    def __init__(self, fields: Sequence[str]) -> None:
        super().__init__(f"notification lacks {', '.join(fields)}")
        self.fields = tuple(fields)


class ClickBankError(ConnectorError):
    """A ClickBank REST API call failed; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ClickBankRequestError(ClickBankError, ValueError):
    pass


class ClickBankPagingError(ClickBankError):
    pass


class ClickBankAPIError(ClickBankError):
    def __init__(self, action: str, status: int, message: str) -> None:
        super().__init__(f"clickbank {action}: HTTP {status}: {message}", status=status)
        self.action = action
        self.message = message


class ClickBankAuthError(ClickBankAPIError):
    pass


class ClickBankNotFoundError(ClickBankAPIError):
    pass


class ClickBankRateLimitError(ClickBankAPIError):
    pass


class ClickBankServerError(ClickBankAPIError):
    pass
