"""Benchmark data put straight into a sandbox through its Python API (no HTTP, no rate limit).

`FastContactPaging` is a benchmark-only stand-in for the sandbox's two contact list handlers:
the same answers for plain paging, from keys sorted once and searched by bisection. The
sandbox's handlers filter and re-sort every contact of the location for each page (about
0.3 s per page at 100,000 contacts, 3 ms at 300), which would make the export benchmark
measure the sandbox and cap the rate-limit benchmark's request rate below GHL's budget.
The rate limits, auth and routing are the sandbox's own: only the page slicing is replaced.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from ghlbridge.sandbox import Call, Handler, LocationState, Reply
from ghlbridge.sandbox.handlers import HANDLERS
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.state import Collection

_FIRST = ("Ada", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas")
_LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kovacs")
_LIST_OP = "contacts.get_contacts"
_SEARCH_OP = "contacts.search_contacts_advanced"
FAST_PAGING_NOTE = "bench FastContactPaging: the same pages, sliced by bisection (seeding.py)"
_PLAIN_SEARCH = frozenset({"locationId", "pageLimit", "searchAfter", "page"})


def contact_fields(i: int) -> dict[str, Any]:
    """One contact shaped like GHL's (about 700 bytes of JSON once stored)."""
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
    email = f"{first}.{last}.{i}@example.com".lower()
    return {
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}",
        "firstNameLowerCase": first.lower(),
        "lastNameLowerCase": last.lower(),
        "fullNameLowerCase": f"{first} {last}".lower(),
        "email": email,
        "emailLowerCase": email,
        "phone": f"+1555{i % 10_000_000:07d}",
        "companyName": "Acme Roofing",
        "address1": f"{i} Main Street",
        "city": "Springfield",
        "state": "IL",
        "postalCode": "62701",
        "country": "US",
        "timezone": "America/Chicago",
        "source": "bench seed",
        "type": "lead",
        "dnd": False,
        "tags": ["bench", f"cohort-{i % 10}"],
        "customFields": [{"id": "kZ2bench0000000field", "value": f"value {i}"}],
    }


def seed_contacts(location: LocationState, n: int) -> None:
    contacts = location.collection(CONTACTS)
    for i in range(n):
        contacts.create(contact_fields(i))


class FastContactPaging:
    """`contacts.get_contacts` and `contacts.search_contacts_advanced` answered by binary search
    over (creation ms, id) keys sorted once per location, in the sandbox's answer shapes.

    Only plain paging is served here (no text query, filters or sort); anything else goes to
    the sandbox's own handler.
    """

    def __init__(self) -> None:
        self._list = HANDLERS.get(_LIST_OP)
        self._search = HANDLERS.get(_SEARCH_OP)
        self._cache: dict[str, _Keys] = {}

    def handlers(self) -> dict[str, Handler]:
        """The sandbox's handlers, with these two for contact lists."""
        return {**HANDLERS, _LIST_OP: self.list_contacts, _SEARCH_OP: self.search_contacts}

    def warm(self, location: LocationState) -> None:
        """Sort the keys now, not on the first page asked."""
        self._keys(location)

    def _keys(self, location: LocationState) -> _Keys:
        contacts = location.collection(CONTACTS)
        keys = self._cache.get(location.id)
        if keys is None or keys.count != len(contacts):
            keys = self._cache[location.id] = _Keys.of(contacts)
        return keys

    def list_contacts(self, call: Call) -> Reply:
        """GET /contacts/: `limit` (<= 100), `startAfter` + `startAfterId`, GHL's `meta`."""
        after_ms, after_id = call.query.get("startAfter"), call.query.get("startAfterId")
        if call.query.get("query") or (after_ms is None) != (after_id is None):
            return _delegate(self._list, call)
        keys = self._keys(call.location())
        total = keys.count
        limit = min(max(int(float(call.query.get("limit") or 20)), 1), 100)
        start = 0
        if after_ms is not None:
            start = bisect_right(keys.keys, (int(float(after_ms)), str(after_id)))
        end = min(start + limit, total)
        more = end < total
        last_ms, last_id = keys.keys[end - 1] if end > start else (None, None)
        page_no = start // limit + 1
        next_url = None
        if more:
            query = {k: v for k, v in call.query.items() if v is not None}
            query.update(startAfter=last_ms, startAfterId=last_id)
            next_url = f"{call.url}?{urlencode(query, doseq=True)}"
        meta = {
            "total": total,
            "currentPage": page_no,
            "nextPage": page_no + 1 if more else None,
            "prevPage": page_no - 1 if page_no > 1 else None,
            "startAfterId": last_id if more else None,
            "startAfter": last_ms if more else None,
            "nextPageUrl": next_url,
        }
        page = [keys.by_id[record_id] for _, record_id in keys.keys[start:end]]
        return call.ok({"contacts": page, "count": total, "meta": meta})

    def search_contacts(self, call: Call) -> Reply:
        """POST /contacts/search: `pageLimit` (<= 500), `searchAfter` [ms, id] or `page`."""
        body = call.json
        marker = body.get("searchAfter")
        plain_marker = marker is None or (isinstance(marker, list) and len(marker) == 2)
        if not body.keys() <= _PLAIN_SEARCH or not plain_marker:
            return _delegate(self._search, call)
        keys = self._keys(call.location())
        limit = min(max(int(float(body.get("pageLimit") or 20)), 1), 500)
        if marker:
            start = bisect_right(keys.keys, (int(float(marker[0])), str(marker[1])))
        else:
            start = (max(int(float(body.get("page") or 1)), 1) - 1) * limit
        page = [
            {**keys.by_id[record_id], "searchAfter": [ms, record_id]}
            for ms, record_id in keys.keys[start : start + limit]
        ]
        return call.ok({"contacts": page, "total": keys.count})


def _delegate(handler: Handler | None, call: Call) -> Reply:
    return handler(call) if handler is not None else call.faked()


@dataclass(frozen=True, slots=True)
class _Keys:
    count: int
    keys: list[tuple[int, str]]
    by_id: dict[str, dict[str, Any]]

    @classmethod
    def of(cls, contacts: Collection) -> _Keys:
        entries = contacts.entries()
        return cls(len(entries), [e.key for e in entries], {r["id"]: r for r in contacts})
