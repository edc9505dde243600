"""Property: whatever N, asked limit and server cap, the Pager returns the server's list exactly."""

from __future__ import annotations

import asyncio
import math

from hypothesis import given, settings
from hypothesis import strategies as st
from test_paging import FakeServer, make_items, make_op

from ghlbridge.catalog.model import Operation
from ghlbridge.client.paging import Pager

ALL_ITEMS = make_items(500)


def op_for(style: str, with_total: bool) -> Operation:
    if style in ("skip_limit", "offset_limit"):
        role = "skip" if style == "skip_limit" else "offset"
        params = {role: role, "limit": "limit"}
        return make_op(style, params, total="total" if with_total else None)
    if style == "page":
        return make_op(
            "page", {"page": "page", "limit": "limit"}, total="meta.total" if with_total else None
        )
    if style == "start_after":
        params = {"start_after": "startAfter", "start_after_id": "startAfterId", "limit": "limit"}
        return make_op(style, params, total="meta.total" if with_total else None)
    if style == "search_after":
        params = {"page": "page", "limit": "pageLimit", "search_after": "searchAfter"}
        return make_op(style, params, total="total" if with_total else None, in_body=True)
    params = {"cursor": "cursor", "limit": "limit", "next_field": "nextCursor"}
    return make_op("cursor", params, total="total" if with_total else None)


@settings(max_examples=150, deadline=None)
@given(
    style=st.sampled_from(
        ["skip_limit", "offset_limit", "page", "start_after", "cursor", "search_after"]
    ),
    n=st.integers(min_value=0, max_value=500),
    limit=st.none() | st.integers(min_value=1, max_value=120),
    cap=st.integers(min_value=1, max_value=100),
    default_limit=st.integers(min_value=1, max_value=50),
    with_total=st.booleans(),
    variant=st.sampled_from(["none", "meta", "url", "ghl"]),
)
def test_pager_collects_the_servers_list_exactly_in_bounded_fetches(
    style: str,
    n: int,
    limit: int | None,
    cap: int,
    default_limit: int,
    with_total: bool,
    variant: str,
) -> None:
    op = op_for(style, with_total)
    items = ALL_ITEMS[:n]
    server = FakeServer(op, items, cap=cap, default_limit=default_limit, variant=variant)
    pager = Pager(op, {"locationId": "loc1"}, None, server, page_size=limit)

    async def run() -> list[object]:
        return [item async for item in pager.items()]

    got = asyncio.run(run())

    assert got == items  # no loss, no duplicates, in order
    page = min(cap, limit if limit is not None else default_limit)
    assert len(server.calls) <= math.ceil(n / page) + 2
