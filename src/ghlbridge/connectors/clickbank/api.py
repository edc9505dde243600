"""`ClickBankClient`: every ClickBank REST API 1.3 action through one request path.

Actions are rows of `endpoints.ENDPOINTS` (``client.call("orders.get", receipt="ABC")``), not
functions. Every request passes `_send`, which paces (10 requests/s per IP, from the facts
file; shared by every client in the process), authenticates (``Authorization: API-<key>`` or
the legacy ``DEV-<dev key>:API-<key>``), sends over the project's `Transport`, retries with
the project's `RetryPolicy`, and maps errors. ClickBank answers a rate limit with 403 and a
plain-text body; a 403 whose text speaks of a limit is treated like a 429.

Paging: list actions take the page number in the ``Page`` request header (1-based); 206
means more pages follow, 200 is the last page, and a page may hold fewer than 100 rows while
more remain. `paginate` follows it to the end and refuses to loop.
"""

from __future__ import annotations

import asyncio
import functools
import json
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from ghlbridge import __version__
from ghlbridge.client.client import _retry_after
from ghlbridge.client.errors import ConnectError, TransportError
from ghlbridge.client.ratelimit import RateLimiter
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.client.transport import AiohttpTransport, HttpRequest, HttpResponse, Transport
from ghlbridge.connectors.clickbank.endpoints import ENDPOINTS, Endpoint
from ghlbridge.connectors.clickbank.errors import (
    ClickBankAPIError,
    ClickBankAuthError,
    ClickBankNotFoundError,
    ClickBankPagingError,
    ClickBankRateLimitError,
    ClickBankRequestError,
    ClickBankServerError,
)

DEFAULT_BASE_URL = "https://api.clickbank.com/rest/1.3"
BASE_URL_ENV = "GHLBRIDGE_CLICKBANK_BASE_URL"
REQUESTS_PER_SECOND = 10  # per IP address (SECONDARY source: OpenClickBank's README)
DAILY_REQUESTS = 25_000  # per account, shared by all its integrations (same source)
MAX_URL_LENGTH = 2_000
MAX_PAGES = 10_000
_RATE_WORDS = ("rate limit", "too many", "limit exceeded", "exceeded")


@functools.cache
def shared_rate_limiter() -> RateLimiter:
    """One limiter per process: ClickBank's per-second limit counts per IP address."""
    return RateLimiter(max_requests=REQUESTS_PER_SECOND, interval=1.0, daily=DAILY_REQUESTS)


def authorization(api_key: str, dev_key: str | None = None) -> str:
    """The Authorization value: ``API-<key>``, or ``DEV-<dev>:API-<key>`` for legacy keys."""
    api = api_key.strip()
    if not api:
        raise ClickBankRequestError("ClickBank API key is empty")
    if api.startswith("DEV-") and ":" in api:
        return api  # already the legacy pair
    if not api.startswith("API-"):
        api = f"API-{api}"
    if dev_key and dev_key.strip():
        dev = dev_key.strip()
        return f"{dev if dev.startswith('DEV-') else 'DEV-' + dev}:{api}"
    return api


@dataclass(frozen=True, slots=True)
class ClickBankPage:
    """One page of a list action: its number, rows, and whether ClickBank said more follow."""

    number: int
    records: list[Any]
    more: bool
    body: Any


class ClickBankClient:
    """Async ClickBank REST client; use as ``async with`` or call `aclose()`."""

    def __init__(
        self,
        api_key: str,
        *,
        dev_key: str | None = None,
        base_url: str = DEFAULT_BASE_URL,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        rate_limiter: RateLimiter | None = None,
        timeout: float = 30.0,
    ) -> None:
        self._authorization = authorization(api_key, dev_key)
        self._secrets = tuple(s for s in (api_key.strip(), (dev_key or "").strip()) if s)
        self.base_url = base_url.rstrip("/")
        self.transport: Transport = transport or AiohttpTransport(timeout=timeout)
        self._own_transport = transport is None
        self.retry = retry or RetryPolicy(max_attempts=4)
        self.rate_limiter = rate_limiter or shared_rate_limiter()
        self.timeout = timeout

    @classmethod
    def from_secret(cls, secret: Mapping[str, Any], **kw: Any) -> ClickBankClient:
        """From a stored "clickbank" connection's secret ({"api_key", "dev_key"?, ...})."""
        api_key = secret.get("api_key")
        if not api_key:
            raise ClickBankRequestError("the ClickBank connection has no API key")
        return cls(str(api_key), dev_key=secret.get("dev_key") or None, **kw)

    async def __aenter__(self) -> ClickBankClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._own_transport:
            await self.transport.close()

    @staticmethod
    def endpoint(action: str) -> Endpoint:
        try:
            return ENDPOINTS[action]
        except KeyError:
            raise ClickBankRequestError(
                f"unknown ClickBank action {action!r}; known: {', '.join(sorted(ENDPOINTS))}"
            ) from None

    async def call(self, action: str, params: Mapping[str, Any] | None = None, /, **kw: Any) -> Any:
        """One request; the decoded body (JSON, an int for counts, text), or a bool for
        ``orders.is_active``. Parameters come as a mapping, keywords, or both."""
        page = await self._request(self.endpoint(action), {**(params or {}), **kw}, page=None)
        return page.body

    async def fetch_page(
        self, action: str, params: Mapping[str, Any] | None = None, *, page: int = 1
    ) -> ClickBankPage:
        """Page `page` (1-based) of a list action."""
        endpoint = self.endpoint(action)
        if not endpoint.paged:
            raise ClickBankRequestError(f"clickbank {action}: does not page")
        if page < 1:
            raise ClickBankRequestError(f"clickbank {action}: page must be >= 1, got {page}")
        return await self._request(endpoint, dict(params or {}), page=page)

    async def pages(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        start: int = 1,
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[ClickBankPage]:
        """Every page from `start` until ClickBank answers 200 (206 means more follow)."""
        number = start
        previous: Any = None
        while True:
            page = await self.fetch_page(action, params, page=number)
            if page.more and page.records and page.body == previous:
                raise ClickBankPagingError(
                    f"clickbank {action}: page {number} repeats page {number - 1}; "
                    "the server seems to ignore the Page header"
                )
            yield page
            if not page.more:
                return
            if number - start + 1 >= max_pages:
                raise ClickBankPagingError(
                    f"clickbank {action}: still more pages after {max_pages}; stopped"
                )
            previous = page.body
            number += 1

    async def paginate(
        self,
        action: str,
        params: Mapping[str, Any] | None = None,
        *,
        start: int = 1,
        max_pages: int = MAX_PAGES,
    ) -> AsyncIterator[Any]:
        """Every row of a list action, across all pages."""
        async for page in self.pages(action, params, start=start, max_pages=max_pages):
            for record in page.records:
                yield record

    async def list_all(self, action: str, params: Mapping[str, Any] | None = None) -> list[Any]:
        return [record async for record in self.paginate(action, params)]

    def build_url(self, endpoint: Endpoint, params: Mapping[str, Any]) -> str:
        """Validate `params` against the endpoint and build the URL (query string only)."""
        action = endpoint.action
        values = {k: v for k, v in params.items() if v is not None}
        unknown = sorted(set(values) - set(endpoint.params) - set(endpoint.path_params))
        if unknown:
            allowed = ", ".join((*endpoint.path_params, *endpoint.params)) or "none"
            raise ClickBankRequestError(
                f"clickbank {action}: unknown parameter {', '.join(unknown)} (takes: {allowed})"
            )
        missing = [p for p in (*endpoint.path_params, *endpoint.required) if p not in values]
        if missing:
            raise ClickBankRequestError(f"clickbank {action}: missing {', '.join(missing)}")
        for group in endpoint.together:
            given = [p for p in group if p in values]
            if given and len(given) != len(group):
                raise ClickBankRequestError(
                    f"clickbank {action}: give {' and '.join(group)} together, or neither"
                )
        path = endpoint.path
        for name in endpoint.path_params:
            path = path.replace(f"{{{name}}}", quote(_text(values.pop(name)), safe=""))
        query = [(k, _text(v)) for k, v in values.items() if not isinstance(v, list | tuple)]
        query += [
            (k, _text(i)) for k, v in values.items() if isinstance(v, list | tuple) for i in v
        ]
        query += list(endpoint.fixed.items())
        url = f"{self.base_url}{path}" + (f"?{urlencode(query)}" if query else "")
        if len(url) > MAX_URL_LENGTH:
            raise ClickBankRequestError(
                f"clickbank {action}: URL is {len(url)} characters; ClickBank takes at most "
                f"{MAX_URL_LENGTH}"
            )
        return url

    async def _request(
        self, endpoint: Endpoint, params: Mapping[str, Any], *, page: int | None
    ) -> ClickBankPage:
        url = self.build_url(endpoint, params)
        headers = {
            "Authorization": self._authorization,
            "Accept": "application/json",
            "User-Agent": f"ghlbridge/{__version__}",
        }
        if page is not None:
            headers["Page"] = str(page)
        response = await self._send(endpoint, HttpRequest(endpoint.method, url, headers))
        if endpoint.result == "active":
            return ClickBankPage(page or 1, [], False, response.status < 300)
        body = _decode(response)
        rows = _records(body, endpoint.records) if endpoint.records else []
        return ClickBankPage(page or 1, rows, response.status == 206, body)

    async def _send(self, endpoint: Endpoint, request: HttpRequest) -> HttpResponse:
        """The one request path: pace, send, retry, map errors."""
        key = "clickbank"
        request.timeout = self.timeout
        attempt = 0
        while True:
            attempt += 1
            await self.rate_limiter.acquire(key)
            try:
                response = await self.transport.send(request)
            except TransportError as exc:
                self.rate_limiter.release(key, reached_server=not isinstance(exc, ConnectError))
                if self.retry.should_retry(attempt) and self.retry.is_retryable(
                    method=endpoint.method, kind=endpoint.kind, status=None, error=exc
                ):
                    await asyncio.sleep(self.retry.delay(attempt))
                    continue
                raise type(exc)(f"clickbank {endpoint.action}: {exc}") from exc
            self.rate_limiter.observe(key, {}, response.status)
            if response.status < 400:
                return response
            if endpoint.result == "active" and response.status == 403:
                return response  # "not active" is an answer, not an error
            error = self._error(endpoint, response)
            status = 429 if isinstance(error, ClickBankRateLimitError) else response.status
            retry_after = _retry_after(response.header("Retry-After"))
            if status == 429:
                # Fills the window: the next acquire waits until it frees (or Retry-After).
                self.rate_limiter.on_rate_limited(key, retry_after)
            if self.retry.should_retry(attempt) and self.retry.is_retryable(
                method=endpoint.method, kind=endpoint.kind, status=status, error=None
            ):
                if status != 429:
                    await asyncio.sleep(self.retry.delay(attempt, retry_after=retry_after))
                continue
            raise error

    def _error(self, endpoint: Endpoint, response: HttpResponse) -> ClickBankAPIError:
        status = response.status
        message = self._redact(_message(response))
        lowered = message.lower()
        if status == 429 or (status == 403 and any(w in lowered for w in _RATE_WORDS)):
            return ClickBankRateLimitError(endpoint.action, status, message)
        if status in (401, 403):
            hint = "" if message != f"HTTP {status}" else " (check the API key and its permissions)"
            return ClickBankAuthError(endpoint.action, status, message + hint)
        if status == 404:
            return ClickBankNotFoundError(endpoint.action, status, message)
        if status >= 500:
            return ClickBankServerError(endpoint.action, status, message)
        return ClickBankAPIError(endpoint.action, status, message)

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _decode(response: HttpResponse) -> Any:
    """JSON when it is JSON; a count's plain-text integer as int; other text as str."""
    if not response.body:
        return None
    text = response.body.decode("utf-8", errors="replace")
    content_type = (response.header("Content-Type") or "").lower()
    stripped = text.strip()
    if "json" in content_type or stripped[:1] in ("{", "["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    if stripped.lstrip("-").isdigit():
        return int(stripped)
    return text


def _records(body: Any, path: str) -> list[Any]:
    """The rows at `path`; ClickBank sends a one-row array as a bare object, and none as null."""
    node = body
    for part in path.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if node is None:
        return []
    return node if isinstance(node, list) else [node]


def _message(response: HttpResponse) -> str:
    """ClickBank's error bodies are plain text (sometimes JSON): one line, at most 300 chars."""
    body = _decode(response)
    if isinstance(body, dict):
        body = body.get("message") or body.get("error") or body.get("errorMessage") or ""
    text = " ".join(str(body or "").split())
    return text[:300] or f"HTTP {response.status}"


__all__ = [
    "DEFAULT_BASE_URL",
    "ClickBankClient",
    "ClickBankPage",
    "authorization",
    "shared_rate_limiter",
]
