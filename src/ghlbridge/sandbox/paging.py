"""Server-side paging for every style the catalog knows, over real records or faked ones.

`window` reads the op's paging params from a call, picks the slice of `entries` (sorted
oldest first by creation ms, then id) and says which response fields to fill: the op's total,
has-more and next-cursor fields, and a `meta` block like GHL's
``{total, currentPage, nextPage, prevPage, startAfter, startAfterId, nextPageUrl}``.
Given a collection's own index (`OrderedEntries`), cursors are found by bisection, so a page
of n records costs O(log n + page) instead of a scan.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, overload
from urllib.parse import urlencode

from ghlbridge.catalog import Operation
from ghlbridge.sandbox.errors import bad_request

DEFAULT_LIMIT = 20


@dataclass(frozen=True, slots=True)
class Entry:
    """One pageable item: its id and its sort key (creation time in epoch ms)."""

    id: str
    sort_ms: int

    @property
    def key(self) -> tuple[int, str]:
        return (self.sort_ms, self.id)


@dataclass(slots=True)
class Window:
    start: int
    end: int
    total: int
    limit: int
    fields: dict[str, Any] = field(default_factory=dict)
    """Dotted response paths (from the catalog) and the values they get."""
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def has_more(self) -> bool:
        return self.end < self.total


def sort_entries(entries: Sequence[Entry]) -> list[Entry]:
    return sorted(entries, key=_key)


def _key(entry: Entry) -> tuple[int, str]:
    return (entry.sort_ms, entry.id)


class OrderedEntries(Sequence[Entry]):
    """Entries already in key order with distinct keys, and each id's creation ms: `window`
    finds a cursor in them by bisection, O(log n), instead of a scan.

    A view of a `Collection`'s own index (no copy): use it before the next write.
    """

    __slots__ = ("_created_ms", "_entries")

    def __init__(self, entries: list[Entry], created_ms: Mapping[str, int]) -> None:
        self._entries = entries
        self._created_ms = created_ms

    def __len__(self) -> int:
        return len(self._entries)

    @overload
    def __getitem__(self, index: int) -> Entry: ...

    @overload
    def __getitem__(self, index: slice) -> list[Entry]: ...

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        return self._entries[index]

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def after(self, key: tuple[int, str]) -> int:
        """Index of the first entry whose key is greater than `key`."""
        return bisect_right(self._entries, key, key=_key)

    def after_id(self, record_id: str) -> int | None:
        """Index just past the entry with this id; None when there is none."""
        ms = self._created_ms.get(record_id)
        if ms is None:
            return None
        i = bisect_left(self._entries, (ms, record_id), key=_key)
        if i < len(self._entries) and self._entries[i].id == record_id:
            return i + 1
        return None


def window(
    op: Operation,
    args: Mapping[str, Any],
    entries: Sequence[Entry],
    *,
    next_url: str | None = None,
    query: Mapping[str, Any] | None = None,
    strict: bool = True,
) -> Window:
    """The page of `entries` (already sorted) that the call's paging args select.

    `args` holds the call's values (query or body, per ``paging.in_body``); `next_url` and
    `query` let a start-after page name its successor as a full URL, as GHL's meta does.
    An unknown id cursor is a 400 when `strict`, else the first page (faked lists, whose
    ids a caller cannot know before the first page, some ops requiring a cursor even so).
    """
    total = len(entries)
    paging = op.paging
    if paging is None:
        return Window(0, total, total, total)
    roles = paging.params

    def arg(role: str) -> Any:
        name = roles.get(role)
        value = args.get(name) if name else None
        return None if value in (None, "") else value

    limit = _int(arg("limit"), paging.default_limit or DEFAULT_LIMIT)
    if paging.max_limit:
        limit = min(limit, paging.max_limit)
    limit = max(limit, 1)
    style = paging.style
    page_number: int | None = None
    if style == "skip_limit":
        start = _int(arg("skip"), 0)
    elif style == "offset_limit":
        start = _int(arg("offset"), 0)
    elif style == "page":
        page_number = max(_int(arg("page"), 1), 1)
        start = (page_number - 1) * limit
    elif style == "start_after":
        start = _after(entries, arg("start_after_id"), arg("start_after"), strict)
    elif style == "start_after_date":
        start = _after(entries, None, arg("start_after"), strict)
    elif style == "search_after":
        marker = arg("search_after")
        if isinstance(marker, list) and len(marker) >= 2:
            start = _after(entries, str(marker[-1]), marker[0], strict)
        else:
            page_number = max(_int(arg("page"), 1), 1)
            start = (page_number - 1) * limit
    elif style in ("cursor", "last_id", "next_token"):
        role = {"cursor": "cursor", "last_id": "last_id", "next_token": "next"}[style]
        start = _after_id(entries, arg(role), strict)
    else:
        start = 0
    start = max(0, min(start, total))
    end = min(start + limit, total)
    win = Window(start, end, total, limit)
    _fill(win, op, entries, page_number, next_url, query or {})
    return win


def _fill(
    win: Window,
    op: Operation,
    entries: Sequence[Entry],
    page_number: int | None,
    next_url: str | None,
    query: Mapping[str, Any],
) -> None:
    assert op.paging is not None
    roles = op.paging.params
    last = entries[win.end - 1] if win.end > win.start else None
    more = win.has_more
    if op.response.total:
        win.fields[op.response.total] = win.total
    if "has_more_field" in roles:
        win.fields[roles["has_more_field"]] = more
    if "next_field" in roles:
        style = op.paging.style
        if style == "start_after":
            win.fields[roles["next_field"]] = last.sort_ms if more and last else None
        elif style == "last_id":  # GHL names the page's last id; has-more says if more follow
            win.fields[roles["next_field"]] = last.id if last else None
        else:
            win.fields[roles["next_field"]] = last.id if more and last else None
    if "next_id_field" in roles:
        win.fields[roles["next_id_field"]] = last.id if more and last else None
    current = page_number or (win.start // win.limit) + 1
    win.meta = {
        "total": win.total,
        "currentPage": current,
        "nextPage": current + 1 if more else None,
        "prevPage": current - 1 if current > 1 else None,
    }
    if op.paging.style == "start_after":
        names = roles
        win.meta["startAfterId"] = last.id if more and last else None
        win.meta["startAfter"] = last.sort_ms if more and last else None
        url = None
        if more and last and next_url:
            params = {k: v for k, v in query.items() if v is not None}
            if "start_after" in names:
                params[names["start_after"]] = last.sort_ms
            if "start_after_id" in names:
                params[names["start_after_id"]] = last.id
            url = f"{next_url}?{urlencode(params, doseq=True)}"
        win.meta["nextPageUrl"] = url
        if "next_url_field" in roles:
            win.fields[roles["next_url_field"]] = url


def _int(value: Any, default: int) -> int:
    if value is None:
        return default
    try:
        return int(float(value))
    except (TypeError, ValueError):
        return default


def _after(entries: Sequence[Entry], after_id: Any, after_ms: Any, strict: bool) -> int:
    """Index of the first entry after the (ms, id) cursor; an id alone or a time alone also work."""
    if after_id is not None and after_ms is None:
        return _after_id(entries, after_id, strict)
    if after_ms is None:
        return 0
    try:
        ms = int(float(after_ms))
    except (TypeError, ValueError):
        raise bad_request("startAfter must be a timestamp in milliseconds") from None
    key = (ms, str(after_id)) if after_id is not None else (ms, "\U0010ffff")
    if isinstance(entries, OrderedEntries):
        return entries.after(key)
    for i, entry in enumerate(entries):
        if entry.key > key:
            return i
    return len(entries)


def _after_id(entries: Sequence[Entry], after_id: Any, strict: bool) -> int:
    if after_id is None:
        return 0
    if isinstance(entries, OrderedEntries):
        found = entries.after_id(str(after_id))
        if found is not None:
            return found
    else:
        for i, entry in enumerate(entries):
            if entry.id == str(after_id):
                return i + 1
    if not strict:
        return 0
    raise bad_request(f"unknown paging cursor {after_id!r}")
