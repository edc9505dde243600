"""`GHLClient`: calls any catalog operation through one request path.

Every call passes `_send`, which limits, authenticates, sends, retries and maps errors, in
that order; the helpers it uses each live in a module of their own (auth, ratelimit, retry,
paging, errors, validation) so a newcomer finds each concern in one place.
"""

from __future__ import annotations

import asyncio
import email.utils
import os
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ghlbridge import __version__
from ghlbridge.catalog import Catalog, Operation, load_catalog
from ghlbridge.client.auth import Auth, StaticToken
from ghlbridge.client.encoding import OperationEncoding, decode_body, encode_body
from ghlbridge.client.errors import (
    APIError,
    AuthError,
    ConnectError,
    DailyLimitExceeded,
    GHLError,
    TransportError,
    api_error,
)
from ghlbridge.client.paging import Pager
from ghlbridge.client.ratelimit import RateLimiter
from ghlbridge.client.retry import RetryPolicy
from ghlbridge.client.transport import AiohttpTransport, HttpRequest, Transport
from ghlbridge.client.validation import validate_body, validate_params

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
_LOCATION_PARAMS = ("locationId", "location_id")
_COMPANY_PARAMS = ("companyId", "company_id")
_NO_BODY: Mapping[str, Any] = {}


class _Plan:
    """What every request of one operation shares, worked out on its first call."""

    __slots__ = ("company_params", "encoding", "headers", "headers_v3", "location_params", "op")

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.encoding = OperationEncoding(op)
        static = {"Accept": "application/json", "User-Agent": f"ghlbridge/{__version__}"}
        self.headers = {**static, "Version": op.version} if op.version else static
        version_v3 = op.version_v3 or op.version
        self.headers_v3 = {**static, "Version": version_v3} if version_v3 else static
        names = {p.name for p in op.params}
        self.location_params = tuple(n for n in _LOCATION_PARAMS if n in names)
        self.company_params = tuple(n for n in _COMPANY_PARAMS if n in names)


@dataclass
class ClientStats:
    """Counters for metrics and benchmarks."""

    requests: int = 0
    retries: int = 0
    rate_limited: int = 0
    refreshes: int = 0
    by_status: dict[int, int] = field(default_factory=dict)


class GHLClient:
    """Async client for every GHL operation; use `SyncGHLClient` from blocking code."""

    def __init__(
        self,
        auth: Auth | str | None = None,
        *,
        base_url: str | None = None,
        location_id: str | None = None,
        company_id: str | None = None,
        transport: Transport | None = None,
        catalog: Catalog | None = None,
        rate_limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        app_key: str = "default",
        version_mode: Literal["v2", "v3"] = "v2",
    ) -> None:
        self.auth: Auth | None = StaticToken(auth) if isinstance(auth, str) else auth
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.location_id = location_id
        self.company_id = company_id
        self.transport: Transport = transport or AiohttpTransport(timeout=timeout)
        self.catalog = catalog or load_catalog()
        self.rate_limiter = rate_limiter or RateLimiter()
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self.app_key = app_key
        self.version_mode = version_mode
        self.stats = ClientStats()
        self._plans: dict[str, _Plan] = {}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **kw: Any) -> GHLClient:
        """GHL_TOKEN, GHL_BASE_URL and GHL_LOCATION_ID, as the CLI documents them."""
        env = os.environ if env is None else env
        kw.setdefault("base_url", env.get("GHL_BASE_URL") or None)
        kw.setdefault("location_id", env.get("GHL_LOCATION_ID") or None)
        return cls(env.get("GHL_TOKEN") or None, **kw)

    async def __aenter__(self) -> GHLClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self.transport.close()

    def operation(self, op_id: str) -> Operation:
        return self.catalog.get(op_id)

    async def call(
        self,
        op_id: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        timeout: float | None = None,
    ) -> Any:
        """Validate, then send one request for `op_id`; returns the decoded response."""
        op = self.catalog.get(op_id)
        params, body = self._with_defaults(op, params, body)
        return await self._send(op, validate_params(op, params), body, timeout=timeout)

    def pager(
        self,
        op_id: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> Pager:
        """A `Pager` over every page of a list operation, whatever its paging style.

        Params are validated per page, before each request, once the pager has filled in the
        paging fields the operation requires.
        """
        op = self.catalog.get(op_id)
        params, body = self._with_defaults(op, params, body)

        async def fetch(page_params: dict[str, Any], page_body: dict[str, Any] | None) -> Any:
            return await self._send(op, validate_params(op, page_params), page_body)

        return Pager(op, dict(params), body, fetch, page_size=page_size, max_pages=max_pages)

    async def paginate(
        self,
        op_id: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> AsyncGenerator[Any, None]:
        """Every item of every page, each exactly once."""
        pager = self.pager(op_id, params, body, page_size=page_size, max_pages=max_pages)
        async for item in pager.items():
            yield item

    def _plan(self, op: Operation) -> _Plan:
        plan = self._plans.get(op.id)
        if plan is None or plan.op is not op:
            plan = self._plans[op.id] = _Plan(op)
        return plan

    def _with_defaults(
        self, op: Operation, params: Mapping[str, Any] | None, body: Any
    ) -> tuple[dict[str, Any], Any]:
        """Fill locationId/companyId params and body fields from the client when absent."""
        out = dict(params or {})
        if self.location_id is None and self.company_id is None:
            return out, body
        plan = self._plan(op)
        for declared, names, value in (
            (plan.location_params, _LOCATION_PARAMS, self.location_id),
            (plan.company_params, _COMPANY_PARAMS, self.company_id),
        ):
            if value is None:
                continue
            for name in declared:
                if out.get(name) is None:
                    out[name] = value
            if op.body is not None and op.body.content_type == "application/json":
                props = op.body.schema.get("properties") or {}
                if names[0] in props and (body is None or isinstance(body, dict)):
                    body = dict(body or {})
                    body.setdefault(names[0], value)
        return out, body

    def _resource(
        self, op: Operation, params: Mapping[str, Any], body: Any
    ) -> tuple[str | None, str | None]:
        """The (location, company) a call is on; it keys the token and the rate budget."""
        location = company = None
        bag = body if isinstance(body, dict) else _NO_BODY
        for name in _LOCATION_PARAMS:
            value = params[name] if name in params else bag.get(name)
            if value:
                location = str(value)
                break
        for name in _COMPANY_PARAMS:
            value = params[name] if name in params else bag.get(name)
            if value:
                company = str(value)
                break
        if op.token_type == "agency":
            return None, company or self.company_id
        return location or self.location_id, company or self.company_id

    def _headers(self, plan: _Plan, token: str | None, params: Mapping[str, Any]) -> dict[str, str]:
        headers = dict(plan.headers_v3 if self.version_mode == "v3" else plan.headers)
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if plan.encoding.header_names:
            headers.update(plan.encoding.headers(params))
        return headers

    async def _send(
        self, op: Operation, params: dict[str, Any], body: Any, *, timeout: float | None = None
    ) -> Any:
        """The one request path: limit, authenticate, send, retry, map errors.

        `params` are validated already (by `call` or the pager, once per request).
        """
        plan = self._plans.get(op.id)
        if plan is None or plan.op is not op:
            plan = self._plan(op)
        payload = content_type = None
        if body is not None or op.body is not None:
            validate_body(op, body)
            payload, content_type = encode_body(op, body)
        location_id, company_id = self._resource(op, params, body)
        budget_key = f"{self.app_key}:{location_id or company_id or 'default'}"
        url = plan.encoding.url(self.base_url.rstrip("/"), params)
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            await self.rate_limiter.acquire(budget_key)
            token = (
                await self.auth.token(op, location_id=location_id, company_id=company_id)
                if self.auth
                else None
            )
            headers = self._headers(plan, token, params)
            if content_type:
                headers["Content-Type"] = content_type
            request = HttpRequest(op.method, url, headers, payload, timeout or self.timeout)
            self.stats.requests += 1
            try:
                response = await self.transport.send(request)
            except TransportError as exc:
                self.rate_limiter.release(
                    budget_key, reached_server=not isinstance(exc, ConnectError)
                )
                if attempt < self.retry.max_attempts and self.retry.is_retryable(
                    method=op.method, kind=op.kind, status=None, error=exc
                ):
                    await self._back_off(attempt, None)
                    continue
                raise type(exc)(f"{op.id}: {exc}") from exc
            status = response.status
            self.stats.by_status[status] = self.stats.by_status.get(status, 0) + 1
            self.rate_limiter.observe(budget_key, response.headers, status)
            data = decode_body(response.body, response.header("Content-Type"))
            if status < 400:
                return data
            if status == 401 and self.auth and token and not refreshed:
                refreshed = True
                if await self.auth.refresh_after_401(
                    op, token, location_id=location_id, company_id=company_id
                ):
                    self.stats.refreshes += 1
                    attempt -= 1
                    continue
            retry_after = _retry_after(response.header("Retry-After"))
            error = api_error(status, data, op_id=op.id, retry_after=retry_after, scopes=op.scopes)
            if status == 429:
                self.stats.rate_limited += 1
                if response.header("X-RateLimit-Daily-Remaining") == "0":
                    raise DailyLimitExceeded(
                        429, "daily request budget spent", op_id=op.id, body=data
                    )
                self.rate_limiter.on_rate_limited(budget_key, retry_after)
            if attempt < self.retry.max_attempts and self.retry.is_retryable(
                method=op.method, kind=op.kind, status=status, error=None
            ):
                if status == 429:
                    self.stats.retries += 1  # the rate limiter now holds the key until it may go
                else:
                    await self._back_off(attempt, retry_after)
                continue
            raise error

    async def _back_off(self, attempt: int, retry_after: float | None) -> None:
        self.stats.retries += 1
        await asyncio.sleep(self.retry.delay(attempt, retry_after=retry_after))


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, parsed.timestamp() - time.time())


__all__ = ["DEFAULT_BASE_URL", "APIError", "AuthError", "ClientStats", "GHLClient", "GHLError"]
