"""What one server is configured with: a frozen value built from the environment (or by
hand in tests) and handed to `create_app(settings)`.

Secrets are not kept here longer than start-up: an OAuth client secret given through the
environment is moved into the store (encrypted) when the app is built, and read from there.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit

from ghlbridge.client.oauth import DEFAULT_BASE_URL, DEFAULT_MARKETPLACE_URL

ED25519_KEY_ENV = "GHLBRIDGE_WEBHOOK_ED25519_PUBLIC_KEY"
RSA_KEY_ENV = "GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY"
MIB = 1024 * 1024


class SettingsError(ValueError):
    """A setting (named by its environment variable) has an unusable value."""


@dataclass(frozen=True)
class ServerSettings:
    """Settings of one server; see docs/server.md for the environment variables."""

    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str | None = None
    """Where GHL and browsers reach this server (the OAuth redirect URI is built from it);
    default ``http://<host>:<port>``."""
    database_url: str | None = None
    """None: ``GHLBRIDGE_DATABASE_URL`` or the SQLite file in ``GHLBRIDGE_HOME``."""
    flows_dirs: tuple[Path, ...] = ()
    """Folders of recipes besides ``GHLBRIDGE_HOME/flows``."""
    concurrency: int | None = None
    ghl_base_url: str = DEFAULT_BASE_URL
    marketplace_url: str = DEFAULT_MARKETPLACE_URL
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = field(default=None, repr=False)
    oauth_scopes: tuple[str, ...] = ()
    oauth_require_state: bool = False
    """Refuse OAuth callbacks without a `state` from `/oauth/start` (installs started from
    GHL's marketplace page carry none)."""
    webhook_ed25519_key: str | None = None
    webhook_rsa_key: str | None = None
    max_body_bytes: int = MIB
    timestamp_tolerance: float = 300.0
    """Seconds a webhook's ``timestamp`` may be away from this server's clock."""
    webhook_rate_limit: str = "100/second"
    """Per source address, in `limits` notation (``100/second``, ``1000/minute``...)."""
    failed_login_limit: str = "20/minute"
    """Wrong admin tokens accepted per source before 429s (each costs a scrypt)."""
    rate_limit_storage: str = "memory://"
    """`limits` storage URI; ``redis://...`` shares the budget between processes."""

    def __post_init__(self) -> None:
        problems = []
        if not 0 <= self.port <= 65535:
            problems.append("port must be between 0 and 65535")
        if self.max_body_bytes < 1024:
            problems.append("max_body_bytes must be at least 1024")
        if self.timestamp_tolerance <= 0:
            problems.append("timestamp_tolerance must be > 0")
        if self.concurrency is not None and self.concurrency < 1:
            problems.append("concurrency must be >= 1")
        for name in ("webhook_rate_limit", "failed_login_limit"):
            try:
                parse_rate_limit(getattr(self, name))
            except ValueError:
                problems.append(f"{name} {getattr(self, name)!r} is not like 100/second")
        for name in ("public_url", "ghl_base_url", "marketplace_url"):
            value = getattr(self, name)
            if value is not None and urlsplit(value).scheme not in ("http", "https"):
                problems.append(f"{name} must be an http(s) URL")
        if problems:
            raise SettingsError("invalid server settings: " + "; ".join(problems))

    @property
    def base_url(self) -> str:
        """This server's public root URL, without a trailing slash."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def redirect_uri(self) -> str:
        return f"{self.base_url}/oauth/callback"

    def with_(self, **changes: Any) -> ServerSettings:
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> ServerSettings:
        """Settings from the environment; `overrides` (e.g. CLI options) win."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}

        def text(*names: str) -> str | None:
            for name in names:
                value = env.get(name, "").strip()
                if value:
                    return value
            return None

        def number(name: str, kind: type[int] | type[float]) -> None:
            raw = text(name)
            if raw is None:
                return
            try:
                values[_FIELD_OF[name]] = kind(raw)
            except ValueError:
                raise SettingsError(f"{name}: {raw!r} is not a number") from None

        for name, attr in (
            ("GHLBRIDGE_HOST", "host"),
            ("GHLBRIDGE_PUBLIC_URL", "public_url"),
            ("GHLBRIDGE_DATABASE_URL", "database_url"),
            ("GHL_BASE_URL", "ghl_base_url"),
            ("GHL_MARKETPLACE_URL", "marketplace_url"),
            ("GHLBRIDGE_WEBHOOK_RATE_LIMIT", "webhook_rate_limit"),
            ("GHLBRIDGE_RATE_LIMIT_STORAGE", "rate_limit_storage"),
        ):
            if (value := text(name)) is not None:
                values[attr] = value
        number("GHLBRIDGE_PORT", int)
        number("GHLBRIDGE_WEBHOOK_MAX_BYTES", int)
        number("GHLBRIDGE_WEBHOOK_TOLERANCE", float)
        number("GHLBRIDGE_FLOW_CONCURRENCY", int)
        if (client_id := text("GHLBRIDGE_OAUTH_CLIENT_ID", "GHL_CLIENT_ID")) is not None:
            values["oauth_client_id"] = client_id
        if (secret := text("GHLBRIDGE_OAUTH_CLIENT_SECRET", "GHL_CLIENT_SECRET")) is not None:
            values["oauth_client_secret"] = secret
        if (scopes := text("GHLBRIDGE_OAUTH_SCOPES")) is not None:
            values["oauth_scopes"] = tuple(scopes.replace(",", " ").split())
        if (require := text("GHLBRIDGE_OAUTH_REQUIRE_STATE")) is not None:
            values["oauth_require_state"] = require.lower() in ("1", "true", "yes", "on")
        # Keys are PEM with real newlines: read them untrimmed of inner whitespace.
        if env.get(ED25519_KEY_ENV, "").strip():
            values["webhook_ed25519_key"] = env[ED25519_KEY_ENV]
        if env.get(RSA_KEY_ENV, "").strip():
            values["webhook_rsa_key"] = env[RSA_KEY_ENV]
        values.update({k: v for k, v in overrides.items() if v is not None})
        if "flows_dirs" in values:
            values["flows_dirs"] = tuple(Path(p) for p in values["flows_dirs"])
        try:
            return cls(**values)
        except TypeError as exc:
            raise SettingsError(str(exc)) from None


_FIELD_OF = {
    "GHLBRIDGE_PORT": "port",
    "GHLBRIDGE_WEBHOOK_MAX_BYTES": "max_body_bytes",
    "GHLBRIDGE_WEBHOOK_TOLERANCE": "timestamp_tolerance",
    "GHLBRIDGE_FLOW_CONCURRENCY": "concurrency",
}

__all__ = ["ED25519_KEY_ENV", "MIB", "RSA_KEY_ENV", "ServerSettings", "SettingsError"]
