"""A generic REST app ("Your App", Clienty, Rankr, any API): settings, requests, mapping.

`HttpApp` holds an app's settings (base URL, auth preset, default headers, timeouts, retries,
which private networks it may reach). `HttpAppClient.request` is the one request path: it
expands the path template, signs with the auth preset, sends through the SSRF-guarded
transport, follows redirects hop by hop (credentials never go to another origin), retries
with the project's `RetryPolicy`, refreshes an OAuth token once on 401, and maps errors.
POST and PATCH are retried only when the call carries an ``Idempotency-Key`` (made once by
the caller, sent unchanged on every attempt). `map_response` picks fields out of a result.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote, urlencode, urljoin, urlsplit

from ghlbridge import __version__
from ghlbridge.client.client import _retry_after
from ghlbridge.client.errors import TransportError
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.client.transport import HttpRequest, HttpResponse, Transport
from ghlbridge.connectors.http.auth import (
    AuthPreset,
    ClientCredentialsTokens,
    Clock,
    OAuth2ClientCredentials,
    auth_from_dict,
    auth_to_dict,
    authorize,
    sensitive_headers,
    validate_auth,
)
from ghlbridge.connectors.http.errors import (
    BlockedAddressError,
    HttpConfigError,
    HttpStatusError,
    MappingError,
    RedirectError,
)
from ghlbridge.connectors.http.ssrf import AddressPolicy, GuardedTransport

_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
_MISSING = object()


@dataclass(frozen=True)
class HttpApp:
    """One app's settings. `allow_private` lifts the SSRF guard; `allow_networks` (CIDRs)
    opens only the listed networks (e.g. an intranet app)."""

    base_url: str
    auth: AuthPreset | None = None
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    timeout: float = 30.0
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(max_attempts=3))
    allow_private: bool = False
    allow_networks: tuple[str, ...] = ()
    follow_redirects: bool = True
    max_redirects: int = 5

    def __post_init__(self) -> None:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise HttpConfigError("base_url: must be an http(s) URL with a host")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise HttpConfigError("base_url: must not carry a query, fragment or credentials")
        if not self.timeout > 0:
            raise HttpConfigError("timeout: must be > 0")
        if self.max_redirects < 0:
            raise HttpConfigError("max_redirects: must be >= 0")
        if self.auth is not None:
            validate_auth(self.auth)
        self.policy()  # validates allow_networks

    def policy(self) -> AddressPolicy:
        return AddressPolicy(allow_private=self.allow_private, allow_networks=self.allow_networks)

    def to_dict(self) -> dict[str, Any]:
        """Plain data for a stored connection (holds secrets: store it only encrypted)."""
        return {
            "base_url": self.base_url,
            "auth": auth_to_dict(self.auth) if self.auth else None,
            "headers": dict(self.headers),
            "timeout": self.timeout,
            "max_attempts": self.retry.max_attempts,
            "allow_private": self.allow_private,
            "allow_networks": list(self.allow_networks),
            "follow_redirects": self.follow_redirects,
            "max_redirects": self.max_redirects,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HttpApp:
        auth = data.get("auth")
        try:
            return cls(
                base_url=str(data["base_url"]),
                auth=auth_from_dict(auth) if auth else None,
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                timeout=float(data.get("timeout", 30.0)),
                retry=RetryPolicy(max_attempts=int(data.get("max_attempts", 3))),
                allow_private=bool(data.get("allow_private", False)),
                allow_networks=tuple(data.get("allow_networks") or ()),
                follow_redirects=bool(data.get("follow_redirects", True)),
                max_redirects=int(data.get("max_redirects", 5)),
            )
        except HttpConfigError:
            raise
        except KeyError as exc:
            raise HttpConfigError(f"http app settings lack {exc}") from None
        except (TypeError, ValueError) as exc:
            raise HttpConfigError(f"http app settings: {exc}") from None


@dataclass(frozen=True)
class HttpResult:
    """An app's answer: `json` is the parsed body when it is JSON, else None."""

    status: int
    headers: Mapping[str, str]
    text: str
    json: Any = None

    @property
    def ok(self) -> bool:
        return self.status < 400

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)


class HttpAppClient:
    """Calls one `HttpApp`. A given `transport` replaces the SSRF-guarded one (tests only)."""

    def __init__(
        self,
        app: HttpApp,
        *,
        transport: Transport | None = None,
        clock: Clock = time.monotonic,
        wall_clock: Clock = time.time,
    ) -> None:
        self.app = app
        self.transport: Transport = transport or GuardedTransport(app.policy(), timeout=app.timeout)
        self._own_transport = transport is None
        self._wall_clock = wall_clock
        self._sensitive = sensitive_headers(app.auth)
        self.tokens: ClientCredentialsTokens | None = None
        if isinstance(app.auth, OAuth2ClientCredentials):
            policy = replace(app.retry, retry_writes=True)  # a token request is safe to repeat
            self.tokens = ClientCredentialsTokens(
                app.auth, lambda r: self._send_retrying(r, policy), clock=clock
            )

    async def __aenter__(self) -> HttpAppClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_transport:
            await self.transport.close()

    async def request(
        self,
        method: str,
        path_template: str = "",
        *,
        path_params: Mapping[str, Any] | None = None,
        query: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        idempotency_key: str | None = None,
        raise_for_status: bool = True,
        timeout: float | None = None,
    ) -> HttpResult:
        """Send one call; raises `HttpStatusError` on a 4xx/5xx unless `raise_for_status` is off."""
        method = method.upper()
        path = expand_path(path_template, path_params or {})
        if json is not None and content is not None:
            raise HttpConfigError(f"{method} {path}: pass json or content, not both")
        base_headers = {
            "User-Agent": f"ghlbridge/{__version__}",
            "Accept": "application/json",
            **self.app.headers,
            **(headers or {}),
        }
        body = content
        if json is not None:
            body = jsonlib.dumps(json, separators=(",", ":"), default=str).encode("utf-8")
            if not any(k.lower() == "content-type" for k in base_headers):
                base_headers["Content-Type"] = "application/json"
        if idempotency_key:
            base_headers["Idempotency-Key"] = idempotency_key
        policy = replace(self.app.retry, retry_writes=True) if idempotency_key else self.app.retry
        url = self.app.base_url.rstrip("/") + path if path else self.app.base_url
        base_query = query_pairs(query or {})
        for refresh in (False, True):
            request_headers, request_query = dict(base_headers), list(base_query)
            token = await authorize(
                self.app.auth,
                request_headers,
                request_query,
                body or b"",
                self.tokens,
                now=self._wall_clock,
            )
            full_url = url + (f"?{urlencode(request_query)}" if request_query else "")
            request = HttpRequest(
                method, full_url, request_headers, body, timeout or self.app.timeout
            )
            response = await self._send_retrying(request, policy)
            if response.status == 401 and token is not None and not refresh and self.tokens:
                self.tokens.invalidate(token)  # expired early or revoked: fetch once, retry once
                continue
            break
        result = _result(response)
        if raise_for_status and not result.ok:
            raise HttpStatusError(
                f"{method} {path or '/'}: HTTP {result.status}{_reason(result)}", result
            )
        return result

    async def _send_retrying(self, request: HttpRequest, policy: RetryPolicy) -> HttpResponse:
        kind = "read" if request.method in _READS else "write"
        attempt = 0
        while True:
            attempt += 1
            try:
                response = await self._follow_redirects(request)
            except TransportError as exc:
                if policy.should_retry(attempt) and policy.is_retryable(
                    method=request.method, kind=kind, status=None, error=exc
                ):
                    await asyncio.sleep(policy.delay(attempt))
                    continue
                raise type(exc)(f"{request.method} {_shown(request.url)}: {exc}") from exc
            retry_after = _retry_after(response.header("Retry-After"))
            if (
                response.status >= 400
                and policy.should_retry(attempt)
                and (retry_after is None or retry_after <= policy.max_delay)
                and policy.is_retryable(
                    method=request.method, kind=kind, status=response.status, error=None
                )
            ):
                await asyncio.sleep(policy.delay(attempt, retry_after=retry_after))
                continue
            return response

    async def _follow_redirects(self, request: HttpRequest) -> HttpResponse:
        hops = 0
        while True:
            try:
                response = await self.transport.send(request)
            except BlockedAddressError as exc:
                if not hops:
                    raise
                raise BlockedAddressError(
                    f"redirect to {_shown(request.url)} refused: {exc}"
                ) from None
            location = response.header("Location")
            if not (self.app.follow_redirects and response.status in _REDIRECTS and location):
                return response
            if hops >= self.app.max_redirects:
                raise RedirectError(
                    f"{request.method} {_shown(request.url)}: more than "
                    f"{self.app.max_redirects} redirects"
                )
            request = self._redirected(request, response.status, urljoin(request.url, location))
            hops += 1

    def _redirected(self, request: HttpRequest, status: int, target: str) -> HttpRequest:
        scheme = urlsplit(target).scheme
        if scheme not in ("http", "https"):
            raise RedirectError(f"redirect from {_shown(request.url)} to a {scheme!r} URL refused")
        method, body = request.method, request.body
        headers = dict(request.headers)
        if status == 303 or (status in (301, 302) and method not in _READS):
            method = "HEAD" if method == "HEAD" else "GET"
            body = None
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        if _origin(target) != _origin(request.url):
            headers = {k: v for k, v in headers.items() if k.lower() not in self._sensitive}
        return HttpRequest(method, target, headers, body, request.timeout)


def expand_path(template: str, params: Mapping[str, Any]) -> str:
    """ "/contacts/{id}" + {"id": "a b"} -> "/contacts/a%20b"; every value is one segment."""
    if "://" in template or template.startswith("//") or "?" in template or "#" in template:
        raise HttpConfigError(
            f"path {template!r}: give a path relative to base_url (query goes in `query`)"
        )
    path = template
    for name, value in params.items():
        placeholder = "{" + name + "}"
        if placeholder not in path:
            raise HttpConfigError(f"path {template!r}: has no {{{name}}}")
        text = str(value)
        if text in ("", ".", ".."):
            raise HttpConfigError(f"path {template!r}: {name} may not be {text!r}")
        path = path.replace(placeholder, quote(text, safe=""))
    if "{" in path:
        missing = path[path.index("{") + 1 : path.index("}")] if "}" in path else path
        raise HttpConfigError(f"path {template!r}: missing path parameter {missing!r}")
    return "/" + path.lstrip("/") if path else ""


def query_pairs(query: Mapping[str, Any]) -> list[tuple[str, str]]:
    """None is left out, a list repeats the key, a bool is "true"/"false"."""
    pairs: list[tuple[str, str]] = []
    for key, value in query.items():
        for item in value if isinstance(value, list | tuple) else [value]:
            if item is None:
                continue
            pairs.append(
                (key, ("true" if item else "false") if isinstance(item, bool) else str(item))
            )
    return pairs


def map_response(
    result: HttpResult, mapping: Mapping[str, str], *, strict: bool = False
) -> dict[str, Any]:
    """Pick fields: {"id": "data.contact.id", "first": "items.0.name", "code": "$status"}.

    Paths walk the JSON body by key or list index; ``$status``, ``$text`` and
    ``$headers.<Name>`` read the answer itself. A missing path gives None, or a
    `MappingError` naming it when `strict`.
    """
    out: dict[str, Any] = {}
    for name, path in mapping.items():
        value = _lookup(result, path)
        if value is _MISSING:
            if strict:
                raise MappingError(f"{name}: {path!r} is not in the response")
            value = None
        out[name] = value
    return out


def _lookup(result: HttpResult, path: str) -> Any:
    if path == "$status":
        return result.status
    if path == "$text":
        return result.text
    if path.startswith("$headers."):
        found = result.header(path.removeprefix("$headers."))
        return _MISSING if found is None else found
    node: Any = result.json
    for part in path.split(".") if path else []:
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif (
            isinstance(node, list)
            and part.lstrip("-").isdigit()
            and -len(node) <= int(part) < len(node)
        ):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _result(response: HttpResponse) -> HttpResult:
    text = response.body.decode("utf-8", errors="replace")
    data: Any = None
    content_type = (response.header("Content-Type") or "").lower()
    if text.strip() and ("json" in content_type or text.lstrip()[:1] in ("{", "[")):
        try:
            data = jsonlib.loads(text)
        except jsonlib.JSONDecodeError:
            data = None
    return HttpResult(response.status, dict(response.headers), text, data)


def _reason(result: HttpResult) -> str:
    message: Any = None
    if isinstance(result.json, dict):
        message = result.json.get("message") or result.json.get("error")
    text = " ".join(str(message or result.text).split())[:200]
    return f": {text}" if text else ""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    default = 443 if parts.scheme == "https" else 80
    return parts.scheme, (parts.hostname or "").lower(), parts.port or default


def _shown(url: str) -> str:
    """A URL without its query (which may hold an API key)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
