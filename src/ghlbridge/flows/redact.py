"""Keeps secrets out of run records: values of known secrets and fields named like secrets.

The engine builds one `Redactor` from every credential it holds (connection tokens, secret
environment values); every input, output and error it stores passes through it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

MASK = "***"
SECRET_FIELD_NAMES = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "api_key",
        "apikey",
        "x-auth-token",
        "cookie",
        "set-cookie",
        "password",
        "secret",
        "client_secret",
        "access_token",
        "refresh_token",
        "token",
        "private_key",
    }
)
SECRET_ENV_NAME = re.compile(r"(SECRET|TOKEN|PASSWORD|PASSWD|API_?KEY|PRIVATE_KEY)", re.I)
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


class Redactor:
    """Replaces secrets inside JSON-like values; `add` teaches it more secret values."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._secrets: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        fresh = {s for s in secrets if isinstance(s, str) and len(s) >= _MIN_SECRET_LENGTH}
        if fresh - self._secrets:
            self._secrets |= fresh
            ordered = sorted(self._secrets, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(s) for s in ordered))

    def text(self, value: str) -> str:
        if self._pattern is None:
            return value
        return self._pattern.sub(MASK, value)

    def __call__(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping):
            return {
                str(k): MASK if str(k).lower() in SECRET_FIELD_NAMES and v else self(v)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self(v) for v in value]
        return value


def flow_env(environ: Mapping[str, str], redactor: Redactor) -> dict[str, str]:
    """The ``env`` templates see: ghlbridge's own credentials are left out, and the values
    of variables named like secrets are taught to `redactor` so no run record shows them."""
    out: dict[str, str] = {}
    for name, value in environ.items():
        if name.startswith(("GHLBRIDGE_", "GHL_")) and name not in (
            "GHL_BASE_URL",
            "GHL_LOCATION_ID",
        ):
            continue
        if SECRET_ENV_NAME.search(name):
            redactor.add([value])
        out[name] = value
    return out


__all__ = ["MASK", "SECRET_FIELD_NAMES", "Redactor", "flow_env"]
