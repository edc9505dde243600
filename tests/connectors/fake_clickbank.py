"""A small fake of ClickBank's REST API 1.3 on 127.0.0.1, for the client's tests.

It checks the Authorization header against accepted keys (no header, or a key without the
permission: 403, as ClickBank documents; an unknown key: 401), pages orders by the `Page`
request header with 206 while more follow and page sizes that vary (ClickBank may send fewer
than 100 rows before the end), sends a one-row array as a bare object, answers errors in plain
text, can answer the first requests with a rate-limit 403 or a 503, and records every request.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

PREFIX = "/rest/1.3"


@dataclass
class FakeClickBank:
    keys: frozenset[str] = frozenset({"API-KEY1"})
    forbidden: frozenset[str] = frozenset()  # known keys without permission: 403
    orders: int = 0
    page_sizes: tuple[int, ...] = (100,)  # cycled: the sizes of successive pages
    active: frozenset[str] = frozenset()
    rate_limited: int = 0  # the next N requests get a 403 rate-limit answer
    unavailable: int = 0  # the next N requests get a 503
    ignore_page_header: bool = False
    echo_auth_in_errors: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    _runner: web.AppRunner | None = None
    base_url: str = ""

    async def __aenter__(self) -> FakeClickBank:
        app = web.Application()
        app.router.add_route("*", PREFIX + "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.base_url = f"http://127.0.0.1:{port}{PREFIX}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def order(self, i: int) -> dict[str, Any]:
        return {
            "receipt": f"R{i:05d}",
            "transactionType": "SALE",
            "totalOrderAmount": 10 + i,
            "lineItemData": {"itemNo": f"sku{i % 3}", "accountAmount": 7.5},
        }

    def _pages(self) -> list[range]:
        pages, start, n = [], 0, 0
        while start < self.orders:
            size = self.page_sizes[n % len(self.page_sizes)]
            pages.append(range(start, min(start + size, self.orders)))
            start += size
            n += 1
        return pages or [range(0)]

    def _text(self, status: int, text: str, request: web.Request) -> web.Response:
        if self.echo_auth_in_errors:
            text += f" (you sent {request.headers.get('Authorization')})"
        return web.Response(status=status, text=text, content_type="text/plain")

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path = request.path.removeprefix(PREFIX)
        self.requests.append(
            {
                "method": request.method,
                "path": path,
                "query": dict(request.query),
                "page": request.headers.get("Page"),
                "auth": request.headers.get("Authorization"),
                "accept": request.headers.get("Accept"),
                "body": await request.read(),
            }
        )
        auth = request.headers.get("Authorization")
        if auth is None:
            return self._text(403, "Forbidden: credentials required", request)
        if auth in self.forbidden:
            return self._text(403, "Forbidden: this API key lacks permission", request)
        if auth not in self.keys:
            return self._text(401, "Unauthorized: unknown API key", request)
        if self.rate_limited:
            self.rate_limited -= 1
            return self._text(403, "Rate limit exceeded, slow down", request)
        if self.unavailable:
            self.unavailable -= 1
            return self._text(503, "Service Unavailable", request)
        if path == "/orders2/list":
            number = 1 if self.ignore_page_header else int(request.headers.get("Page", "1"))
            pages = self._pages()
            if number > len(pages):
                return web.json_response({"orderData": None})
            rows = [self.order(i) for i in pages[number - 1]]
            data: Any = rows[0] if len(rows) == 1 else rows  # ClickBank's "nillable" arrays
            return web.json_response(
                {"orderData": data}, status=206 if number < len(pages) else 200
            )
        if path == "/orders2/count":
            return web.Response(text=str(self.orders), content_type="text/plain")
        if path == "/debug":
            return web.Response(text="debug: ok", content_type="text/plain")
        if path.startswith("/orders2/"):
            receipt = path.split("/")[2]
            if request.method == "HEAD":
                return web.Response(status=204 if receipt in self.active else 403)
            known = {self.order(i)["receipt"] for i in range(self.orders)}
            if receipt not in known:
                return self._text(404, f"Order {receipt} not found", request)
            return web.json_response({"orderData": [self.order(int(receipt[1:]))]})
        if path.startswith("/tickets/") and request.method == "POST":
            return web.json_response(
                {"ticketId": 77, "receipt": path.split("/")[2], "type": "RFND"}
            )
        return self._text(404, "Not Found", request)
