"""The Pager against in-memory fake servers: every style, every item once, and no loops."""

from __future__ import annotations

import base64
import copy
import dataclasses
import math
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import pytest

from ghlbridge.catalog.model import Operation, Paging, Response
from ghlbridge.catalog.registry import CATALOG_PATH, Catalog
from ghlbridge.client.errors import PagingError
from ghlbridge.client.paging import Pager, extract

T0_MS = 1_700_000_000_000


def make_items(n: int) -> list[dict[str, Any]]:
    """GHL-like records: an id, an ISO `dateAdded`, and an Elasticsearch-like `sort` value."""
    items = []
    for k in range(n):
        ms = T0_MS + 1000 * k
        iso = datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")
        items.append({"id": f"r{k:04d}", "dateAdded": iso, "sort": [ms]})
    return items


def make_op(
    style: str,
    params: dict[str, str],
    *,
    items: str | None = "items",
    total: str | None = None,
    in_body: bool = False,
    max_limit: int | None = None,
    op_id: str = "test.list_things",
) -> Operation:
    return Operation(
        id=op_id,
        app="test",
        spec_operation_id="list-things",
        summary="",
        method="POST" if in_body else "GET",
        path="/things",
        params=(),
        body=None,
        response=Response(200, None, items, total),
        scopes=(),
        token_type="location",
        oauth_only=False,
        version="2021-07-28",
        version_v3=None,
        paging=Paging(style, params, in_body, max_limit, None),
        kind="read",
        deprecated=False,
    )


def put(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[last] = value


def _encode(index: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{index}".encode()).decode()


def _decode(cursor: str) -> int:
    return int(base64.urlsafe_b64decode(cursor.encode()).decode().split(":")[1])


class FakeServer:
    """A list endpoint over `items` that pages the way `op.paging` says, strictly.

    ``cap`` is the server-side page-size ceiling; ``variant`` picks how the answer speaks about
    the next page (``meta``: page meta / startAfter fields in ``meta``; ``url``: ``nextPageUrl``;
    ``none``: nothing); ``ignore_marker`` serves page one forever; ``stuck_cursor`` hands out the
    same next cursor forever.
    """

    def __init__(
        self,
        op: Operation,
        items: list[dict[str, Any]],
        *,
        cap: int = 1000,
        default_limit: int = 20,
        variant: str = "none",
        send_total: bool = True,
        ignore_marker: bool = False,
        stuck_cursor: bool = False,
    ) -> None:
        assert op.paging is not None
        self.op, self.paging, self.items = op, op.paging, items
        self.cap, self.default_limit, self.variant = cap, default_limit, variant
        self.send_total, self.ignore_marker, self.stuck_cursor = (
            send_total,
            ignore_marker,
            stuck_cursor,
        )
        self.calls: list[tuple[dict[str, Any], dict[str, Any] | None]] = []

    def field(self, fields: dict[str, Any], role: str) -> Any:
        name = self.paging.params.get(role)
        return fields.get(name) if name else None

    def ms(self, index: int) -> int:
        return int(self.items[index]["sort"][0])

    def after_id(self, ident: Any) -> int:
        ids = [it["id"] for it in self.items]
        assert ident in ids, f"unknown id {ident!r}"
        return ids.index(ident) + 1

    def start(self, fields: dict[str, Any], limit: int) -> int:
        style, get = self.paging.style, self.field
        if self.ignore_marker:
            return 0
        if style in ("skip_limit", "offset_limit"):
            return int(get(fields, "skip") or get(fields, "offset") or 0)
        if style == "page":
            return (int(get(fields, "page") or 1) - 1) * limit
        if style == "start_after":
            sid, sa = get(fields, "start_after_id"), get(fields, "start_after")
            if "start_after_id" not in self.paging.params:
                return self.after_id(sa) if sa else 0
            if sid is None:
                assert sa is None, "startAfter without startAfterId"
                return 0
            index = self.after_id(sid)
            assert int(sa) == self.ms(index - 1), "startAfter does not match startAfterId"
            return index
        if style == "start_after_date":
            value = get(fields, "start_after")
            if value is None:
                return 0
            value = value[0] if isinstance(value, list) else value
            return sum(1 for k in range(len(self.items)) if self.ms(k) <= int(value))
        if style == "search_after":
            after = get(fields, "search_after")
            if after:
                return sum(1 for k in range(len(self.items)) if self.ms(k) <= int(after[0]))
            return (int(get(fields, "page") or 1) - 1) * limit
        token = get(fields, "cursor") or get(fields, "next") or get(fields, "last_id")
        if not token:
            return 0
        return self.after_id(token) if style == "last_id" else _decode(str(token))

    async def __call__(self, params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        self.calls.append((copy.deepcopy(params), copy.deepcopy(body)))
        assert len(self.calls) <= len(self.items) + 10, "runaway paging: the client did not stop"
        fields = (body or {}) if self.paging.in_body else params
        limit = min(int(self.field(fields, "limit") or self.default_limit), self.cap)
        start = self.start(fields, limit)
        page = self.items[start : start + limit]
        end = start + len(page)
        more = end < len(self.items)
        if self.op.response.items == "":
            return page
        answer: dict[str, Any] = {}
        put(answer, self.op.response.items or "items", page)
        if self.send_total and self.op.response.total:
            put(answer, self.op.response.total, len(self.items))
        self.speak(answer, fields, page, end, more)
        return answer

    def speak(
        self, answer: dict[str, Any], fields: dict[str, Any], page: list[Any], end: int, more: bool
    ) -> None:
        """Tell the client about the next page, the way this style's servers do."""
        style, params = self.paging.style, self.paging.params
        if "has_more_field" in params:
            put(answer, params["has_more_field"], more)
        if style == "page" and self.variant == "meta":
            current = int(self.field(fields, "page") or 1)
            put(answer, "meta.currentPage", current)
            put(answer, "meta.nextPage", current + 1 if more else None)
        elif style == "start_after" and self.variant in ("meta", "url", "ghl"):
            last = page[-1] if page and more else None
            sid = last["id"] if last else None
            sa = int(last["sort"][0]) if last else None
            if self.variant in ("url", "ghl"):  # the next pair inside nextPageUrl
                query = urlencode({"startAfter": sa, "startAfterId": sid, "limit": 99})
                url = f"https://services.example/things?{query}" if last else None
                put(answer, params.get("next_url_field", "meta.nextPageUrl"), url)
            if self.variant in ("meta", "ghl"):
                if self.variant == "ghl" and page:  # GHL keeps the last pair on the last page
                    sid, sa = page[-1]["id"], int(page[-1]["sort"][0])
                put(answer, params.get("next_id_field", "meta.startAfterId"), sid)
                put(answer, params.get("next_field", "meta.startAfter"), sa)
        elif style in ("cursor", "next_token"):
            token = _encode(end) if more else None
            if self.stuck_cursor:
                token = _encode(1)
            default = "nextCursor" if style == "cursor" else "next"
            put(answer, params.get("next_field", default), token)
        elif style == "last_id" and "next_field" in params:
            put(answer, params["next_field"], page[-1]["id"] if page and more else None)


async def drain(pager: Pager) -> list[Any]:
    return [item async for item in pager.items()]


# -- the operations each style is proven on (shaped like the catalog's) ----------------------

OPS: dict[str, tuple[Operation, str]] = {
    "skip_limit": (make_op("skip_limit", {"skip": "skip", "limit": "limit"}, total="count"), ""),
    "skip_limit_no_total": (make_op("skip_limit", {"skip": "skip", "limit": "limit"}), ""),
    "skip_limit_body": (
        make_op(
            "skip_limit",
            {"skip": "skip", "limit": "limit"},
            items="results.posts",
            total="results.count",
            in_body=True,
        ),
        "",
    ),
    "offset_limit": (
        make_op("offset_limit", {"offset": "offset", "limit": "limit"}, total="totalCount"),
        "",
    ),
    "offset_limit_has_more": (
        make_op(
            "offset_limit",
            {"offset": "offset", "limit": "limit", "has_more_field": "pagination.hasMore"},
        ),
        "",
    ),
    "page_meta": (
        make_op("page", {"page": "page", "limit": "limit"}, total="meta.total"),
        "meta",
    ),
    "page_size_total": (
        make_op("page", {"page": "page", "limit": "pageSize"}, total="total"),
        "",
    ),
    "page_no_total": (make_op("page", {"page": "page", "limit": "pageLength"}), ""),
    "start_after_from_items": (
        make_op(
            "start_after",
            {"start_after": "startAfter", "start_after_id": "startAfterId", "limit": "limit"},
        ),
        "none",
    ),
    "start_after_meta": (
        make_op(
            "start_after",
            {"start_after": "startAfter", "start_after_id": "startAfterId", "limit": "limit"},
            total="meta.total",
        ),
        "meta",
    ),
    "start_after_url": (
        make_op(
            "start_after",
            {
                "start_after": "startAfter",
                "start_after_id": "startAfterId",
                "limit": "limit",
                "next_url_field": "meta.nextPageUrl",
            },
        ),
        "url",
    ),
    "start_after_ghl": (
        make_op(
            "start_after",
            {"start_after": "startAfter", "start_after_id": "startAfterId", "limit": "limit"},
            items="contacts",
            total="meta.total",
        ),
        "ghl",
    ),
    "start_after_id_only": (
        make_op("start_after", {"start_after": "startAfter", "limit": "limit"}, items="agents"),
        "none",
    ),
    "start_after_date": (
        make_op("start_after_date", {"start_after": "startAfterDate", "limit": "limit"}),
        "",
    ),
    "search_after": (
        make_op(
            "search_after",
            {"page": "page", "limit": "pageLimit", "search_after": "searchAfter"},
            total="total",
            in_body=True,
        ),
        "",
    ),
    "cursor": (
        make_op("cursor", {"cursor": "cursor", "limit": "limit", "next_field": "nextCursor"}),
        "",
    ),
    "next_token": (make_op("next_token", {"next": "next", "limit": "limit"}), ""),
    "last_id_flag": (
        make_op(
            "last_id",
            {
                "last_id": "lastMessageId",
                "limit": "limit",
                "next_field": "lastMessageId",
                "has_more_field": "nextPage",
            },
            items="messages",
        ),
        "",
    ),
    "last_id_from_items": (make_op("last_id", {"last_id": "lastDoc", "limit": "limit"}), ""),
}


@pytest.mark.parametrize("case", sorted(OPS))
@pytest.mark.parametrize(
    ("n", "limit", "cap"),
    [
        (0, 10, 1000),  # nothing at all
        (1, 10, 1000),
        (30, 10, 1000),  # an exact multiple of the page size
        (37, 10, 1000),
        (37, 50, 7),  # the server caps pages below the asked limit
        (35, 50, 7),  # ... and N is an exact multiple of the cap
    ],
)
async def test_every_style_returns_every_item_once_in_order(
    case: str, n: int, limit: int, cap: int
) -> None:
    op, variant = OPS[case]
    items = make_items(n)
    server = FakeServer(op, items, cap=cap, variant=variant)
    pager = Pager(op, {"locationId": "loc1"}, None, server, page_size=limit)

    got = await drain(pager)

    assert got == items
    assert pager.pages_fetched == len(server.calls)
    assert len(server.calls) <= math.ceil(n / min(cap, limit)) + 1


async def test_skip_limit_with_known_total_stops_without_an_empty_page() -> None:
    op, _ = OPS["skip_limit"]
    server = FakeServer(op, make_items(30), cap=7)
    assert len(await drain(Pager(op, {}, None, server, page_size=10))) == 30
    assert len(server.calls) == math.ceil(30 / 7)
    assert [c[0].get("skip") for c in server.calls] == [None, 7, 14, 21, 28]


async def test_skip_limit_keeps_going_past_short_pages_without_a_total() -> None:
    op, _ = OPS["skip_limit_no_total"]
    server = FakeServer(op, make_items(30), cap=7)
    assert len(await drain(Pager(op, {}, None, server, page_size=100))) == 30
    assert [c[0].get("skip") for c in server.calls] == [None, 7, 14, 21, 28, 30]


async def test_page_meta_without_next_page_ends_without_an_extra_fetch() -> None:
    op, _ = OPS["page_meta"]
    server = FakeServer(op, make_items(45), variant="meta", send_total=False)
    assert len(await drain(Pager(op, {}, None, server, page_size=20))) == 45
    assert [c[0].get("page") for c in server.calls] == [None, 2, 3]


async def test_page_numbers_count_from_the_callers_start_page() -> None:
    op, _ = OPS["page_size_total"]
    items = make_items(45)
    server = FakeServer(op, items)
    got = await drain(Pager(op, {"page": 2, "pageSize": 10}, None, server))
    assert got == items[10:]
    assert [c[0]["page"] for c in server.calls] == [2, 3, 4, 5]


async def test_has_more_false_stops_even_when_items_remain() -> None:
    op = make_op(
        "offset_limit", {"offset": "offset", "limit": "limit", "has_more_field": "hasMore"}
    )

    async def fetch(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        return {"items": make_items(3), "hasMore": False}

    pager = Pager(op, {}, None, fetch)
    assert len(await drain(pager)) == 3
    assert pager.pages_fetched == 1


@pytest.mark.parametrize("flag", ["hasMore", "nextPage"])
async def test_last_id_honours_a_false_more_flag_the_catalog_does_not_name(flag: str) -> None:
    op, _ = OPS["last_id_from_items"]

    async def fetch(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        return {"items": make_items(3), flag: False}

    pager = Pager(op, {}, None, fetch)
    assert len(await drain(pager)) == 3
    assert pager.pages_fetched == 1


async def test_start_after_takes_the_next_pair_from_next_page_url() -> None:
    op, _ = OPS["start_after_url"]
    items = [{k: v for k, v in it.items() if k != "dateAdded"} for it in make_items(12)]
    server = FakeServer(op, items, variant="url")  # no dateAdded: only the URL has startAfter
    assert await drain(Pager(op, {}, None, server, page_size=5)) == items
    second = server.calls[1][0]
    assert second["startAfterId"] == "r0004"
    assert int(second["startAfter"]) == T0_MS + 4000
    assert second["limit"] == 5  # only the paging fields are taken from the URL
    assert len(server.calls) == 3  # a null nextPageUrl ends it: no probe for an empty page


async def test_start_after_stops_on_a_null_next_page_url_despite_meta_start_after() -> None:
    op, _ = OPS["start_after_ghl"]
    server = FakeServer(op, make_items(137), cap=7, variant="ghl")
    assert await drain(Pager(op, {"limit": 100}, None, server)) == make_items(137)
    assert len(server.calls) == math.ceil(137 / 7)


async def test_start_after_stops_when_meta_start_after_fields_are_null() -> None:
    op, _ = OPS["start_after_meta"]
    server = FakeServer(op, make_items(12), variant="meta")
    assert await drain(Pager(op, {}, None, server, page_size=5)) == make_items(12)
    assert [c[0].get("startAfterId") for c in server.calls] == [None, "r0004", "r0009"]


async def test_start_after_derives_epoch_ms_from_the_last_items_iso_date() -> None:
    op, _ = OPS["start_after_from_items"]
    server = FakeServer(op, make_items(8), variant="none")
    await drain(Pager(op, {}, None, server, page_size=5))
    assert server.calls[1][0]["startAfter"] == T0_MS + 4000
    assert server.calls[1][0]["startAfterId"] == "r0004"


async def test_search_after_sends_sort_of_last_item_and_next_page_in_the_body() -> None:
    op, _ = OPS["search_after"]
    server = FakeServer(op, make_items(12))
    params = {"schemaKey": "custom_objects.pets"}
    body = {"locationId": "loc1", "pageLimit": 5}
    assert len(await drain(Pager(op, params, body, server))) == 12
    assert [c[1] for c in server.calls] == [
        {"locationId": "loc1", "pageLimit": 5},
        {"locationId": "loc1", "pageLimit": 5, "searchAfter": [T0_MS + 4000], "page": 2},
        {"locationId": "loc1", "pageLimit": 5, "searchAfter": [T0_MS + 9000], "page": 3},
    ]
    assert all(c[0] == params for c in server.calls)


@pytest.mark.parametrize("case", ["skip_limit", "skip_limit_body", "search_after", "cursor"])
async def test_caller_params_and_body_are_not_mutated(case: str) -> None:
    op, _ = OPS[case]
    params = {"locationId": "loc1", "limit": 5}
    body = {"filters": {"status": ["open"]}, "limit": 5, "pageLimit": 5}
    before = copy.deepcopy((params, body))
    server = FakeServer(op, make_items(12))
    assert len(await drain(Pager(op, params, body, server))) == 12
    assert (params, body) == before
    assert len(server.calls) >= 3


async def test_page_size_fills_the_limit_capped_at_max_limit_but_never_overrides() -> None:
    op = make_op("skip_limit", {"skip": "skip", "limit": "limit"}, max_limit=100)
    server = FakeServer(op, make_items(3))
    await drain(Pager(op, {}, None, server, page_size=500))
    assert server.calls[0][0]["limit"] == 100
    server = FakeServer(op, make_items(3))
    await drain(Pager(op, {"limit": 2}, None, server, page_size=50))
    assert server.calls[0][0]["limit"] == 2


async def test_max_pages_stops_quietly() -> None:
    op, _ = OPS["cursor"]
    server = FakeServer(op, make_items(50))
    pager = Pager(op, {}, None, server, page_size=10, max_pages=2)
    assert await drain(pager) == make_items(20)
    assert pager.pages_fetched == 2 == len(server.calls)


async def test_pages_yields_each_page_and_keeps_the_last_response() -> None:
    op, _ = OPS["offset_limit"]
    server = FakeServer(op, make_items(25))
    pager = Pager(op, {}, None, server, page_size=10)
    sizes = [len(page) async for page in pager.pages()]
    assert sizes == [10, 10, 5]
    assert pager.last_response["totalCount"] == 25


async def test_an_operation_without_paging_is_one_page() -> None:
    op = make_op("skip_limit", {"skip": "skip"}, items="tags")
    op = dataclasses.replace(op, paging=None)
    calls = []

    async def fetch(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        calls.append(params)
        return {"tags": [{"id": "a"}, {"id": "b"}]}

    assert await drain(Pager(op, {}, None, fetch)) == [{"id": "a"}, {"id": "b"}]
    whole = dataclasses.replace(op, response=Response(200, None))
    assert await drain(Pager(whole, {}, None, fetch)) == [{"tags": [{"id": "a"}, {"id": "b"}]}]
    assert len(calls) == 2


async def test_a_paged_operation_without_an_items_path_is_fetched_once() -> None:
    op = make_op("offset_limit", {"offset": "offset", "limit": "limit"}, items=None)
    calls = []

    async def fetch(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        calls.append(params)
        return {"funnels": [{"id": "f1"}], "count": 1}

    assert await drain(Pager(op, {}, None, fetch)) == [{"funnels": [{"id": "f1"}], "count": 1}]
    assert len(calls) == 1


# -- loop detection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["skip_limit_no_total", "offset_limit", "page_no_total", "start_after_from_items", "cursor"],
)
async def test_a_server_ignoring_the_marker_raises_instead_of_looping(case: str) -> None:
    op, variant = OPS[case]
    server = FakeServer(op, make_items(30), variant=variant, ignore_marker=True)
    pager = Pager(op, {}, None, server, page_size=10)
    got: list[Any] = []
    with pytest.raises(PagingError, match=r"^test\.list_things: paging would loop"):
        async for item in pager.items():
            got.append(item)
    assert got == make_items(10)  # the one real page was delivered, nothing twice
    assert len(server.calls) <= 2


async def test_a_repeated_cursor_raises_naming_the_op_and_the_cursor() -> None:
    op, _ = OPS["cursor"]
    server = FakeServer(op, make_items(30), stuck_cursor=True)
    with pytest.raises(PagingError) as err:
        await drain(Pager(op, {}, None, server, page_size=10))
    message = str(err.value)
    assert "test.list_things" in message
    assert _encode(1) in message
    assert "\n" not in message
    assert len(server.calls) == 2


async def test_a_next_cursor_equal_to_the_callers_own_cursor_raises() -> None:
    op, _ = OPS["cursor"]

    async def fetch(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        return {"items": [{"id": "x"}], "nextCursor": "abc"}

    with pytest.raises(PagingError, match="cursor='abc'"):
        await drain(Pager(op, {"cursor": "abc"}, None, fetch))


def test_an_unknown_style_is_refused_up_front() -> None:
    op = make_op("telepathy", {"limit": "limit"})
    with pytest.raises(PagingError, match=r"test\.list_things"):
        Pager(op, {}, None, FakeServer(make_op("cursor", {"cursor": "c"}), []))


# -- extract -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dotted", "expected"),
    [
        ("", {"a": {"b": [10, {"c": 3}]}, "n": None}),
        ("a.b", [10, {"c": 3}]),
        ("a.b.1.c", 3),
        ("a.b.0", 10),
        ("a.x", None),
        ("a.b.9", None),
        ("n", None),
        (None, None),
    ],
)
def test_extract_follows_dotted_paths(dotted: str | None, expected: Any) -> None:
    data = {"a": {"b": [10, {"c": 3}]}, "n": None}
    assert extract(data, dotted) == expected


# -- the catalog's own paged operations ----------------------------------------------------


def _catalog_paged_ops() -> list[Operation]:
    if not CATALOG_PATH.exists():
        return []
    return [
        op
        for op in Catalog.from_file(CATALOG_PATH)
        if op.paging is not None and op.response.items is not None
    ]


@pytest.mark.skipif(not CATALOG_PATH.exists(), reason="catalog not generated yet")
@pytest.mark.parametrize("op", _catalog_paged_ops(), ids=lambda op: op.id)
async def test_every_paged_catalog_operation_pages_to_the_end(op: Operation) -> None:
    assert op.paging is not None
    variant = "ghl" if "next_url_field" in op.paging.params else "none"
    items = make_items(23)
    server = FakeServer(op, items, cap=7, variant=variant)
    pager = Pager(op, {}, {} if op.paging.in_body else None, server, page_size=10)
    assert await drain(pager) == items
    assert len(server.calls) <= math.ceil(23 / 7) + 1


async def test_a_count_that_may_be_per_page_does_not_stop_paging_early() -> None:
    """`count` equal to the page's size is ambiguous: a per-page count must not end the walk."""
    op = make_op("skip_limit", {"skip": "skip", "limit": "limit"}, total="count")
    items = make_items(23)
    calls: list[dict[str, Any]] = []

    async def per_page_count(params: dict[str, Any], body: dict[str, Any] | None) -> Any:
        calls.append(params)
        skip = int(params.get("skip") or 0)
        page = items[skip : skip + 5]
        return {"items": page, "count": len(page)}

    got = await drain(Pager(op, {}, None, per_page_count, page_size=10))
    assert got == items
    assert len(calls) == 6  # five pages of at most 5, then one empty page ends it
