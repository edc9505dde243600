"""Auth presets for HTTP apps, and the one function that signs a request with one.

Presets: an API key (a header or a query parameter), a bearer token, HTTP basic, OAuth 2.0
client credentials (the token is cached until shortly before it expires; concurrent callers
wait for one refresh, never start their own), and HMAC-SHA256 over the body (hex, in a header
of the app's choosing; with a timestamp header, over ``f"{timestamp}.{body}"``).

Secrets are excluded from each preset's repr.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urlencode, urlsplit

from ghlbridge.client.transport import HttpRequest, HttpResponse
from ghlbridge.connectors.http.errors import HttpConfigError, OAuth2TokenError

Clock = Callable[[], float]


@dataclass(frozen=True)
class ApiKeyAuth:
    value: str = field(repr=False)
    name: str = "X-API-Key"
    location: Literal["header", "query"] = "header"
    type: ClassVar[str] = "api_key"


@dataclass(frozen=True)
class BearerAuth:
    token: str = field(repr=False)
    type: ClassVar[str] = "bearer"


@dataclass(frozen=True)
class BasicAuth:
    username: str
    password: str = field(repr=False)
    type: ClassVar[str] = "basic"


@dataclass(frozen=True)
class OAuth2ClientCredentials:
    token_url: str
    client_id: str
    client_secret: str = field(repr=False)
    scope: str | None = None
    client_auth: Literal["basic", "body"] = "basic"  # how the client proves itself (RFC 6749)
    type: ClassVar[str] = "oauth2"


@dataclass(frozen=True)
class HmacAuth:
    secret: str = field(repr=False)
    header: str = "X-Signature"
    timestamp_header: str | None = None
    prefix: str = ""  # e.g. "sha256=" for GitHub-style receivers
    type: ClassVar[str] = "hmac"


AuthPreset = ApiKeyAuth | BearerAuth | BasicAuth | OAuth2ClientCredentials | HmacAuth
PRESETS: dict[str, type[AuthPreset]] = {
    cls.type: cls for cls in (ApiKeyAuth, BearerAuth, BasicAuth, OAuth2ClientCredentials, HmacAuth)
}


def auth_to_dict(auth: AuthPreset) -> dict[str, Any]:
    """The preset as plain data (secrets included: store it only encrypted)."""
    data = {k: v for k, v in vars(auth).items() if v is not None}
    return {"type": auth.type, **data}


def auth_from_dict(data: Mapping[str, Any]) -> AuthPreset:
    kind = data.get("type")
    cls = PRESETS.get(str(kind))
    if cls is None:
        raise HttpConfigError(f"auth: unknown type {kind!r}; one of {', '.join(PRESETS)}")
    fields = {k: v for k, v in data.items() if k != "type"}
    try:
        preset = cls(**fields)
    except TypeError as exc:
        raise HttpConfigError(f"auth ({kind}): {exc}") from None
    validate_auth(preset)
    return preset


def validate_auth(auth: AuthPreset) -> None:
    """Empty secrets and impossible settings fail early, naming the field (not its value)."""
    match auth:
        case ApiKeyAuth():
            _require(auth.type, value=auth.value, name=auth.name)
            if auth.location not in ("header", "query"):
                raise HttpConfigError("auth (api_key): location must be 'header' or 'query'")
        case BearerAuth():
            _require(auth.type, token=auth.token)
        case BasicAuth():
            _require(auth.type, username=auth.username)
            if ":" in auth.username:
                raise HttpConfigError("auth (basic): username cannot contain ':'")
        case OAuth2ClientCredentials():
            _require(auth.type, token_url=auth.token_url, client_id=auth.client_id)
            _require(auth.type, client_secret=auth.client_secret)
            if urlsplit(auth.token_url).scheme not in ("http", "https"):
                raise HttpConfigError("auth (oauth2): token_url must be an http(s) URL")
            if auth.client_auth not in ("basic", "body"):
                raise HttpConfigError("auth (oauth2): client_auth must be 'basic' or 'body'")
        case HmacAuth():
            _require(auth.type, secret=auth.secret, header=auth.header)


def _require(kind: str, **values: str) -> None:
    for name, value in values.items():
        if not isinstance(value, str) or not value:
            raise HttpConfigError(f"auth ({kind}): {name} is required")


def hmac_signature(secret: str, body: bytes, timestamp: str | None = None) -> str:
    """Hex HMAC-SHA256 of the body, or of ``f"{timestamp}.{body}"`` when a timestamp is given."""
    message = body if timestamp is None else timestamp.encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def sensitive_headers(auth: AuthPreset | None) -> frozenset[str]:
    """Header names (lower case) that carry credentials: never sent to another origin."""
    names = {"authorization", "proxy-authorization", "cookie"}
    if isinstance(auth, ApiKeyAuth) and auth.location == "header":
        names.add(auth.name.lower())
    if isinstance(auth, HmacAuth):
        names.add(auth.header.lower())
    return frozenset(names)


Send = Callable[[HttpRequest], Awaitable[HttpResponse]]


class ClientCredentialsTokens:
    """An OAuth 2.0 client-credentials token, cached until `skew` seconds before it expires.

    `token()` is single-flight: while one caller fetches, the others wait on the same lock
    and then find the fresh token. `invalidate(token)` drops a token a server rejected (401),
    only if it is still the cached one, so N rejected callers cause one new fetch.
    """

    def __init__(
        self,
        preset: OAuth2ClientCredentials,
        send: Send,
        *,
        clock: Clock = time.monotonic,
        skew: float = 30.0,
        default_lifetime: float = 3600.0,
    ) -> None:
        self._preset = preset
        self._send = send
        self._clock = clock
        self._skew = skew
        self._default_lifetime = default_lifetime
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()
        self.fetches = 0

    async def token(self) -> str:
        token = self._cached()
        if token is not None:
            return token
        async with self._lock:
            return self._cached() or await self._fetch()

    def invalidate(self, token: str) -> None:
        if token == self._token:
            self._token = None

    def _cached(self) -> str | None:
        return self._token if self._clock() < self._expires_at else None

    async def _fetch(self) -> str:
        p = self._preset
        form = {"grant_type": "client_credentials"}
        if p.scope:
            form["scope"] = p.scope
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if p.client_auth == "basic":
            headers["Authorization"] = basic_header(p.client_id, p.client_secret)
        else:
            form |= {"client_id": p.client_id, "client_secret": p.client_secret}
        started = self._clock()
        self.fetches += 1
        request = HttpRequest("POST", p.token_url, headers, urlencode(form).encode("ascii"))
        response = await self._send(request)
        where = urlsplit(p.token_url).netloc
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status >= 400 or not isinstance(data, dict):
            reason = ""
            if isinstance(data, dict):
                reason = " ".join(
                    str(data[k]) for k in ("error", "error_description") if data.get(k)
                )
            reason = reason.replace(p.client_secret, "[redacted]")[:200]
            raise OAuth2TokenError(
                f"token request to {where} failed: HTTP {response.status}"
                + (f": {reason}" if reason else "")
            )
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise OAuth2TokenError(f"token answer from {where} has no access_token")
        try:
            lifetime = float(data.get("expires_in") or self._default_lifetime)
        except (TypeError, ValueError):
            lifetime = self._default_lifetime
        self._token = token
        self._expires_at = started + lifetime - min(self._skew, lifetime / 2)
        return token


def basic_header(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


async def authorize(
    auth: AuthPreset | None,
    headers: dict[str, str],
    query: list[tuple[str, str]],
    body: bytes,
    tokens: ClientCredentialsTokens | None,
    *,
    now: Clock = time.time,
) -> str | None:
    """Add `auth` to a request's headers or query; returns the OAuth token used, if any."""
    match auth:
        case None:
            return None
        case ApiKeyAuth(value=value, name=name, location="query"):
            query.append((name, value))
        case ApiKeyAuth(value=value, name=name):
            headers[name] = value
        case BearerAuth(token=token):
            headers["Authorization"] = f"Bearer {token}"
        case BasicAuth(username=username, password=password):
            headers["Authorization"] = basic_header(username, password)
        case OAuth2ClientCredentials():
            if tokens is None:
                raise HttpConfigError("auth (oauth2): no token source")
            token = await tokens.token()
            headers["Authorization"] = f"Bearer {token}"
            return token
        case HmacAuth():
            stamp = str(int(now())) if auth.timestamp_header else None
            if auth.timestamp_header and stamp:
                headers[auth.timestamp_header] = stamp
            headers[auth.header] = auth.prefix + hmac_signature(auth.secret, body, stamp)
    return None
