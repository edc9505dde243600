"""A small, configurable fake GHL HTTP server for end-to-end tests over real sockets.

Serves on 127.0.0.1 (ephemeral port) with aiohttp.web, as an async context manager or from a
background thread (`start_in_thread()` / `stop()`) for CLI subprocess tests. It checks the bearer
token, enforces a sliding-window rate limit per (token, location) with GHL's five X-RateLimit-*
headers on every answer, can fail every k-th accepted request with 503, caps page sizes, and
records every request. Answers:

    GET /contacts/                 locationId, limit, startAfterId, startAfter -> {contacts, meta}
    GET /contacts/{contactId}      {contact}
    GET /locations/search          skip, limit -> {locations}
    GET /opportunities/search      location_id, limit, startAfterId, startAfter, page -> {.., meta}
    anything else                  200 {}
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from aiohttp import web

_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
_GHL_ID = re.compile(r"^[A-Za-z0-9]{20}$")

UNAUTHORIZED = {
    "statusCode": 401,
    "message": "Invalid token: access token is invalid",
    "error": "Unauthorized",
}
TOO_MANY = {"statusCode": 429, "message": "Too many requests"}
UNAVAILABLE = {"statusCode": 503, "message": "Service Unavailable"}


@dataclass
class FakeGHLConfig:
    """What the fake serves and how strict it is; fields may be changed between requests."""

    contacts: int = 25
    opportunities: int = 25
    locations: int = 3
    page_cap: int = 100  # the server returns at most this many items, whatever limit asks
    rate_max: int = 100  # accepted requests per rate_interval per (token, location)
    rate_interval: float = 10.0
    daily_limit: int = 200_000
    fail_every: int = 0  # every k-th accepted request answers 503 (0 = never)
    tokens: frozenset[str] | None = None  # accepted bearer tokens; None = any non-empty one
    rate_headers: bool = True
    retry_after: float | None = None  # send Retry-After on 429s (GHL does not document one)
    latency: float = 0.0  # seconds added before each answer
    # The last page's meta still names its last item in startAfterId/startAfter (nextPageUrl and
    # nextPage are null), as a published GHL example shows; False makes them null too.
    cursor_on_last_page: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    location: str
    status: int
    at: float
    body: bytes = b""

    def header(self, name: str) -> str | None:
        lower = name.lower()
        return next((v for k, v in self.headers.items() if k.lower() == lower), None)

    @property
    def version(self) -> str | None:
        return self.header("Version")

    @property
    def authorization(self) -> str | None:
        return self.header("Authorization")


@dataclass
class _Bucket:
    window: deque[float] = field(default_factory=deque)
    daily_used: int = 0


def contact_id(i: int) -> str:
    return f"ct{i:018d}"


def opportunity_id(i: int) -> str:
    return f"op{i:018d}"


def location_id(i: int) -> str:
    return f"lo{i:018d}"


def _ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _contact(i: int, location: str) -> dict[str, Any]:
    added = _EPOCH + timedelta(minutes=i)
    return {
        "id": contact_id(i),
        "locationId": location,
        "firstName": f"First{i}",
        "lastName": f"Last{i}",
        "contactName": f"first{i} last{i}",
        "email": f"contact{i}@example.com",
        "phone": f"+1555{i:07d}",
        "type": "lead",
        "source": "fake",
        "tags": [],
        "customFields": [],
        "dateAdded": _iso(added),
        "dateUpdated": _iso(added),
    }


def _opportunity(i: int, location: str) -> dict[str, Any]:
    created = _EPOCH + timedelta(minutes=i)
    return {
        "id": opportunity_id(i),
        "name": f"Deal {i}",
        "monetaryValue": 100 * i,
        "pipelineId": "pi000000000000000001",
        "pipelineStageId": "st000000000000000001",
        "status": "open",
        "source": "fake",
        "contactId": contact_id(i),
        "locationId": location,
        "createdAt": _iso(created),
        "updatedAt": _iso(created),
    }


def _location(i: int) -> dict[str, Any]:
    return {
        "id": location_id(i),
        "name": f"Location {i}",
        "email": f"location{i}@example.com",
        "timezone": "UTC",
        "country": "US",
    }


def _error(status: int, message: Any, error: str) -> web.Response:
    return web.json_response(
        {"statusCode": status, "message": message, "error": error}, status=status
    )


class FakeGHL:
    """The fake server; `base_url` is set once started, `requests` lists what it received."""

    def __init__(
        self,
        config: FakeGHLConfig | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        **overrides: Any,
    ) -> None:
        self.config = replace(config or FakeGHLConfig(), **overrides)
        self.base_url = ""
        self._clock = clock
        self._records: list[RecordedRequest] = []
        self._records_lock = threading.Lock()
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._accepted = 0
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        host, port = self._runner.addresses[0][:2]
        self.base_url = f"http://{host}:{port}"
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> FakeGHL:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def start_in_thread(self) -> str:
        """Serve from a daemon thread with its own loop (for sync and subprocess tests)."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="fake-ghl", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        return asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.close(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
        self._loop = self._thread = None

    # --- what was received -------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._records_lock:
            return list(self._records)

    def reset(self) -> None:
        """Forget recorded requests, rate windows and the 503 counter."""
        with self._records_lock:
            self._records.clear()
        self._buckets.clear()
        self._accepted = 0

    @property
    def location_ids(self) -> list[str]:
        return [location_id(i) for i in range(1, self.config.locations + 1)]

    # --- serving -----------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        cfg = self.config
        location = _location_of(request, body)
        token = _bearer(request)
        bucket = self._buckets.setdefault((token or "", location), _Bucket())
        now = self._clock()
        while bucket.window and bucket.window[0] <= now - cfg.rate_interval:
            bucket.window.popleft()

        response: web.Response
        extra: dict[str, str] = {}
        if not token or (cfg.tokens is not None and token not in cfg.tokens):
            response = web.json_response(UNAUTHORIZED, status=401)
        elif len(bucket.window) >= cfg.rate_max or bucket.daily_used >= cfg.daily_limit:
            response = web.json_response(TOO_MANY, status=429)
            if cfg.retry_after is not None:
                extra["Retry-After"] = f"{cfg.retry_after:g}"
        else:
            bucket.window.append(now)
            bucket.daily_used += 1
            self._accepted += 1
            if cfg.fail_every and self._accepted % cfg.fail_every == 0:
                response = web.json_response(UNAVAILABLE, status=503)
            else:
                response = self._route(request)
        if cfg.rate_headers:
            extra.update(
                {
                    "X-RateLimit-Max": str(cfg.rate_max),
                    "X-RateLimit-Remaining": str(max(cfg.rate_max - len(bucket.window), 0)),
                    "X-RateLimit-Interval-Milliseconds": str(int(cfg.rate_interval * 1000)),
                    "X-RateLimit-Limit-Daily": str(cfg.daily_limit),
                    "X-RateLimit-Daily-Remaining": str(max(cfg.daily_limit - bucket.daily_used, 0)),
                }
            )
        response.headers.update(extra)
        record = RecordedRequest(
            method=request.method,
            path=request.path,
            query={k: v for k, v in request.query.items()},
            headers={k: v for k, v in request.headers.items()},
            location=location,
            status=response.status,
            at=now,
            body=body,
        )
        with self._records_lock:
            self._records.append(record)
        if cfg.latency:
            await asyncio.sleep(cfg.latency)
        return response

    def _route(self, request: web.Request) -> web.Response:
        path = request.path.rstrip("/") or "/"
        if request.method == "GET":
            if path == "/contacts":
                return self._list_contacts(request)
            if path == "/opportunities/search":
                return self._search_opportunities(request)
            if path == "/locations/search":
                return self._search_locations(request)
            if path.startswith("/contacts/") and path.count("/") == 2:
                return self._get_contact(path.rsplit("/", 1)[1])
        return web.json_response({})

    def _page_size(self, request: web.Request, default: int) -> int:
        try:
            asked = int(request.query.get("limit", default))
        except ValueError:
            asked = default
        return max(1, min(asked, 100, self.config.page_cap))

    def _list_contacts(self, request: web.Request) -> web.Response:
        location = request.query.get("locationId")
        if not location:
            return _error(422, ["locationId should not be empty"], "Unprocessable Entity")
        page = self._cursor_page(request, self.config.contacts, contact_id)
        if isinstance(page, web.Response):
            return page
        start, size = page
        items = [_contact(i, location) for i in range(start + 1, start + size + 1)]
        meta = self._meta(request, start, size, self.config.contacts, contact_id)
        return web.json_response({"contacts": items, "meta": meta})

    def _search_opportunities(self, request: web.Request) -> web.Response:
        location = request.query.get("location_id")
        if not location:
            return _error(422, ["location_id should not be empty"], "Unprocessable Entity")
        page = self._cursor_page(request, self.config.opportunities, opportunity_id)
        if isinstance(page, web.Response):
            return page
        start, size = page
        items = [_opportunity(i, location) for i in range(start + 1, start + size + 1)]
        meta = self._meta(request, start, size, self.config.opportunities, opportunity_id)
        return web.json_response({"opportunities": items, "meta": meta, "aggregations": {}})

    def _cursor_page(
        self, request: web.Request, total: int, make_id: Callable[[int], str]
    ) -> tuple[int, int] | web.Response:
        """(items before this page, items on it) from startAfterId, startAfter or page."""
        size = self._page_size(request, 20)
        query = request.query
        if after_id := query.get("startAfterId"):
            numbers = {make_id(i): i for i in range(1, total + 1)}
            if after_id not in numbers:
                return _error(400, "Invalid startAfterId", "Bad Request")
            start = numbers[after_id]
        elif after := query.get("startAfter"):
            try:
                after_ms = int(float(after))
            except ValueError:
                return _error(400, "Invalid startAfter", "Bad Request")
            start = max((after_ms - _ms(_EPOCH)) // 60_000, 0)  # item i is dated EPOCH + i min
        else:
            try:
                page = max(int(query.get("page", "1")), 1)
            except ValueError:
                page = 1
            start = (page - 1) * size
        start = min(start, total)
        return start, min(size, total - start)

    def _meta(
        self,
        request: web.Request,
        start: int,
        size: int,
        total: int,
        make_id: Callable[[int], str],
    ) -> dict[str, Any]:
        """GHL's paging meta; on the last page nextPageUrl and nextPage are null."""
        page_size = self._page_size(request, 20)
        current = start // page_size + 1
        more = start + size < total
        last = start + size
        named = size > 0 and (more or self.config.cursor_on_last_page)
        last_id = make_id(last) if named else None
        last_ms = _ms(_EPOCH + timedelta(minutes=last)) if named else None
        next_url = None
        if more:
            query = dict(request.query)
            query.update({"startAfter": str(last_ms), "startAfterId": str(last_id)})
            query.pop("page", None)
            next_url = f"{self.base_url}{request.path}?{urlencode(query)}"
        return {
            "total": total,
            "nextPageUrl": next_url,
            "startAfterId": last_id,
            "startAfter": last_ms,
            "currentPage": current,
            "nextPage": current + 1 if more else None,
            "prevPage": current - 1 if current > 1 else None,
        }

    def _search_locations(self, request: web.Request) -> web.Response:
        try:
            skip = max(int(request.query.get("skip", "0")), 0)
        except ValueError:
            skip = 0
        size = self._page_size(request, 10)
        numbers = range(skip + 1, min(skip + size, self.config.locations) + 1)
        return web.json_response({"locations": [_location(i) for i in numbers]})

    def _get_contact(self, wanted: str) -> web.Response:
        for i in range(1, self.config.contacts + 1):
            if contact_id(i) == wanted:
                location = self.location_ids[0] if self.config.locations else "default"
                return web.json_response({"contact": _contact(i, location)})
        if _GHL_ID.match(wanted):
            return _error(404, "Contact not found", "Not Found")
        return web.json_response({})


def _bearer(request: web.Request) -> str | None:
    value = request.headers.get("Authorization", "")
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _location_of(request: web.Request, body: bytes) -> str:
    """The resource GHL budgets by: locationId/companyId in query, path or JSON body."""
    query = request.query
    for name in ("locationId", "location_id", "altId", "companyId"):
        if value := query.get(name):
            return value
    parts = request.path.strip("/").split("/")
    if len(parts) >= 2 and parts[0] == "locations" and _GHL_ID.match(parts[1]):
        return parts[1]
    if body:
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            for name in ("locationId", "companyId"):
                if isinstance(data.get(name), str):
                    return str(data[name])
    return "default"
