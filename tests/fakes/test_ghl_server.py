"""The fake GHL server itself: auth, rate limit with headers, paging, failures, recording."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from typing import Any

import aiohttp

from .ghl_server import FakeGHL, contact_id

AUTH = {"Authorization": "Bearer test-token", "Version": "2021-07-28"}
RATE_HEADERS = (
    "X-RateLimit-Max",
    "X-RateLimit-Remaining",
    "X-RateLimit-Interval-Milliseconds",
    "X-RateLimit-Limit-Daily",
    "X-RateLimit-Daily-Remaining",
)


async def get(
    session: aiohttp.ClientSession, url: str, headers: dict[str, str] | None = None, **params: Any
) -> tuple[int, Any, dict[str, str]]:
    async with session.get(url, headers=AUTH if headers is None else headers, params=params) as r:
        return r.status, await r.json(), dict(r.headers)


async def test_rate_limit_is_enforced_per_location_with_headers_on_every_answer() -> None:
    async with FakeGHL(rate_max=5, rate_interval=0.3) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/contacts/"
        answers = [await get(s, url, locationId="locA") for _ in range(7)]
        statuses = [status for status, _, _ in answers]
        assert statuses == [200] * 5 + [429] * 2
        assert answers[5][1] == {"statusCode": 429, "message": "Too many requests"}
        for _, _, headers in answers:
            assert all(name in headers for name in RATE_HEADERS)
        remaining = [int(h["X-RateLimit-Remaining"]) for _, _, h in answers]
        assert remaining == [4, 3, 2, 1, 0, 0, 0]
        assert answers[0][2]["X-RateLimit-Max"] == "5"
        assert answers[0][2]["X-RateLimit-Interval-Milliseconds"] == "300"
        assert answers[6][2]["X-RateLimit-Daily-Remaining"] == "199995"

        status, _, _ = await get(s, url, locationId="locB")  # its own budget
        assert status == 200

        await asyncio.sleep(0.32)  # the sliding window has moved on
        status, _, headers = await get(s, url, locationId="locA")
        assert status == 200 and headers["X-RateLimit-Remaining"] == "4"


async def test_optional_retry_after_and_no_rate_headers() -> None:
    async with FakeGHL(rate_max=1, retry_after=2.5) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/contacts/"
        await get(s, url, locationId="locA")
        status, _, headers = await get(s, url, locationId="locA")
        assert status == 429 and headers["Retry-After"] == "2.5"
        fake.config.rate_headers = False
        status, _, headers = await get(s, url, locationId="locB")
        assert status == 200 and not any(h.startswith("X-RateLimit") for h in headers)


async def test_contacts_page_with_start_after_and_a_server_side_cap() -> None:
    async with FakeGHL(contacts=23, page_cap=7) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/contacts/"
        params: dict[str, Any] = {"locationId": "locA", "limit": 100}
        seen: list[str] = []
        sizes: list[int] = []
        while True:
            status, body, _ = await get(s, url, **params)
            assert status == 200
            sizes.append(len(body["contacts"]))
            seen += [c["id"] for c in body["contacts"]]
            assert all(c["locationId"] == "locA" for c in body["contacts"])
            meta = body["meta"]
            assert meta["total"] == 23
            if meta["nextPageUrl"] is None:
                assert meta["nextPage"] is None
                break
            params.update(startAfterId=meta["startAfterId"], startAfter=meta["startAfter"])
        assert sizes == [7, 7, 7, 2]
        assert seen == [contact_id(i) for i in range(1, 24)]
        assert meta["currentPage"] == 4 and meta["prevPage"] == 3
        assert meta["startAfterId"] == contact_id(23)  # the last page still names its last item

        # startAfter alone (a timestamp) pages the same way.
        status, body, _ = await get(
            s, url, locationId="locA", limit=5, startAfter=start_after_ms(5)
        )
        assert [c["id"] for c in body["contacts"]] == seen[5:10]

        status, body, _ = await get(s, url, locationId="locA", startAfterId="nope")
        assert status == 400
        status, body, _ = await get(s, url)
        assert status == 422 and body["message"] == ["locationId should not be empty"]


def start_after_ms(n: int) -> int:
    """The startAfter value GHL would give after the n-th contact (items are a minute apart)."""
    return 1704067200000 + n * 60_000


async def test_last_page_cursor_can_be_null() -> None:
    async with FakeGHL(contacts=3, cursor_on_last_page=False) as fake, aiohttp.ClientSession() as s:
        _, body, _ = await get(s, f"{fake.base_url}/contacts/", locationId="locA")
        assert len(body["contacts"]) == 3
        assert body["meta"]["startAfterId"] is None and body["meta"]["startAfter"] is None


async def test_opportunities_follow_next_page_url() -> None:
    async with FakeGHL(opportunities=10, page_cap=4) as fake, aiohttp.ClientSession() as s:
        url: str | None = f"{fake.base_url}/opportunities/search?location_id=locA&limit=20"
        ids: list[str] = []
        while url:
            async with s.get(url, headers=AUTH) as r:
                body = await r.json()
            ids += [o["id"] for o in body["opportunities"]]
            url = body["meta"]["nextPageUrl"]
        assert len(ids) == len(set(ids)) == 10


async def test_locations_search_skip_and_limit() -> None:
    async with FakeGHL(locations=12, page_cap=5) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/locations/search"
        _, body, _ = await get(s, url, skip=0, limit=10)
        assert [loc["id"] for loc in body["locations"]] == fake.location_ids[:5]
        _, body, _ = await get(s, url, skip=10, limit=10)
        assert [loc["id"] for loc in body["locations"]] == fake.location_ids[10:]


async def test_contact_by_id_and_generic_fallback() -> None:
    async with FakeGHL(contacts=3) as fake, aiohttp.ClientSession() as s:
        status, body, _ = await get(s, f"{fake.base_url}/contacts/{contact_id(2)}")
        assert status == 200 and body["contact"]["id"] == contact_id(2)
        status, body, _ = await get(s, f"{fake.base_url}/contacts/{contact_id(9)}")
        assert status == 404 and body["statusCode"] == 404
        status, body, _ = await get(s, f"{fake.base_url}/calendars/", locationId="locA")
        assert status == 200 and body == {}
        async with s.post(f"{fake.base_url}/contacts/", headers=AUTH, json={}) as r:
            assert r.status == 200 and await r.json() == {}


async def test_bearer_token_is_required() -> None:
    async with FakeGHL(tokens=frozenset({"good"})) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/contacts/"
        for headers in ({}, {"Authorization": "Bearer bad"}, {"Authorization": "Basic good"}):
            status, body, answer_headers = await get(s, url, headers, locationId="locA")
            assert status == 401
            assert body == {
                "statusCode": 401,
                "message": "Invalid token: access token is invalid",
                "error": "Unauthorized",
            }
            assert "X-RateLimit-Remaining" in answer_headers
        status, _, _ = await get(s, url, {"Authorization": "Bearer good"}, locationId="locA")
        assert status == 200


async def test_every_kth_accepted_request_fails_with_503() -> None:
    async with FakeGHL(fail_every=3) as fake, aiohttp.ClientSession() as s:
        url = f"{fake.base_url}/contacts/"
        statuses = [(await get(s, url, locationId="locA"))[0] for _ in range(7)]
        assert statuses == [200, 200, 503, 200, 200, 503, 200]


async def test_requests_are_recorded_with_version_and_location() -> None:
    async with FakeGHL() as fake, aiohttp.ClientSession() as s:
        await get(s, f"{fake.base_url}/contacts/", locationId="locA")
        headers = {"Authorization": "Bearer t2", "Version": "2021-04-15"}
        await get(s, f"{fake.base_url}/calendars/events", headers, locationId="locB")
        async with s.post(
            f"{fake.base_url}/contacts/", headers=AUTH, json={"locationId": "locC"}
        ) as r:
            assert r.status == 200
        first, second, third = fake.requests
        assert (first.method, first.path, first.location) == ("GET", "/contacts/", "locA")
        assert first.version == "2021-07-28" and first.authorization == "Bearer test-token"
        assert first.query == {"locationId": "locA"}
        assert (second.version, second.location, second.status) == ("2021-04-15", "locB", 200)
        assert third.method == "POST" and third.location == "locC"
        assert json.loads(third.body) == {"locationId": "locC"}
        fake.reset()
        assert fake.requests == []


def test_runs_in_a_background_thread_for_sync_callers() -> None:
    fake = FakeGHL(contacts=2)
    base_url = fake.start_in_thread()
    try:
        request = urllib.request.Request(f"{base_url}/contacts/?locationId=locA", headers=AUTH)
        with urllib.request.urlopen(request, timeout=5) as answer:
            body = json.loads(answer.read())
        assert [c["id"] for c in body["contacts"]] == [contact_id(1), contact_id(2)]
        try:
            urllib.request.urlopen(f"{base_url}/contacts/?locationId=locA", timeout=5)
        except urllib.error.HTTPError as exc:
            assert exc.code == 401
        else:
            raise AssertionError("expected a 401")
        assert len(fake.requests) == 2
    finally:
        fake.stop()
