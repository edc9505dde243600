"""One paging iterator for every paging style in the catalog, and it refuses to loop.

A `Pager` asks `fetch` for one page at a time, moving the op's paging fields (named by
``op.paging.params`` roles, in the query or the body) from what each answer says. Stops: an empty
page, a known total reached, or no next marker. A marker seen before, or a page starting with the
previous page's first item (the server ignored the marker), raises `PagingError` instead.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from ghlbridge.catalog.model import Operation, Paging
from ghlbridge.client.errors import PagingError

Fetch = Callable[[dict[str, Any], dict[str, Any] | None], Awaitable[Any]]
"""(query/path params, JSON body or None) -> the parsed JSON answer."""

# Roles whose values are the "where to continue" marker of each style; a repeat means a loop.
_MARKER_ROLES: dict[str, tuple[str, ...]] = {
    "skip_limit": ("skip",),
    "offset_limit": ("offset",),
    "page": ("page",),
    "start_after": ("start_after", "start_after_id"),
    "start_after_date": ("start_after_date", "start_after"),
    "search_after": ("search_after",),
    "cursor": ("cursor", "next"),
    "next_token": ("next", "cursor"),
    "last_id": ("last_id", "cursor"),
}
# Where a next token hides when the catalog names no field: "next..." names, then the request
# param's own name (``lastFaqId`` answers ``lastFaqId``), then other common ones.
_NEXT_NAMES = ("nextCursor", "nextPageToken", "nextToken")
_OTHER_TOKEN_NAMES = ("next", "lastMessageId", "lastFaqId", "lastKnowledgeBaseId", "lastId")
_MORE_FLAGS = ("hasMore", "hasNextPage", "nextPage")
_PAGE_META_KEYS = frozenset({"currentPage", "nextPage", "prevPage"})
_START_AFTER_FIELDS = {
    "next_url_field": "meta.nextPageUrl",
    "next_field": "meta.startAfter",
    "next_id_field": "meta.startAfterId",
}


def _lookup(data: Any, dotted: str) -> tuple[bool, Any]:
    """(found, value) for a dotted path; numeric segments index lists."""
    cur = data
    for part in dotted.split(".") if dotted else ():
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        elif isinstance(cur, list) and part.isdigit() and int(part) < len(cur):
            cur = cur[int(part)]
        else:
            return False, None
    return True, cur


def extract(data: Any, dotted: str | None) -> Any:
    """The value at a dotted path ("" is the root); None when the path is None or absent."""
    if dotted is None:
        return None
    return _lookup(data, dotted)[1]


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != [] and not isinstance(value, bool)


def _identity(item: Any) -> str:
    if isinstance(item, dict):
        for key in ("id", "_id"):
            if _present(item.get(key)):
                return str(item[key])
    return json.dumps(item, sort_keys=True, default=str)


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return None


def _epoch_ms(value: Any) -> int | None:
    """A number of ms, or an ISO date-time (GHL's ``dateAdded``) as epoch ms."""
    number = _as_int(value)
    if number is not None or not isinstance(value, str):
        return number
    try:
        return int(datetime.fromisoformat(value).timestamp() * 1000)
    except ValueError:
        return None


def _query_value(url: str, name: str) -> Any:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[-1] if values else None


_FALLBACK_LIMIT = 20  # GHL's most common default page size, for a required limit with none


class Pager:
    """Pages one list operation; keeps the state (fields to send, markers seen, pages fetched)."""

    def __init__(
        self,
        op: Operation,
        params: dict[str, Any],
        body: dict[str, Any] | None,
        fetch: Fetch,
        *,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> None:
        self.op = op
        self._caller_params = dict(params)  # snapshots: the caller's dicts are never touched
        self._caller_body = copy.deepcopy(body)
        self._fetch = fetch
        self.page_size = page_size
        self.max_pages = max_pages
        self.pages_fetched = 0
        self.last_response: Any = None
        paging = op.paging
        if paging is not None and not self._roles(paging, _MARKER_ROLES.get(paging.style, ())):
            raise PagingError(
                f"{op.id}: paging style {paging.style!r} with params {paging.params} cannot page"
            )
        self._reset()

    # -- public -----------------------------------------------------------------------------

    async def pages(self) -> AsyncGenerator[list[Any], None]:
        """Each non-empty page's items, in order; the iteration ends at the last page."""
        self._reset()
        while self.max_pages is None or self.pages_fetched < self.max_pages:
            data = await self._fetch(dict(self._params), copy.deepcopy(self._body))
            self.pages_fetched += 1
            self.last_response = data
            items = self._items_of(data)
            if not items:
                return
            self._check_first_item(items)
            self._received += len(items)
            yield items
            paging = self.op.paging
            if paging is None or self.op.response.items is None:
                return  # without an items path there is nothing to page through
            if self._said_no_more(paging, data) or not self._advance(paging, data, items):
                return
            self._check_marker(paging)

    async def items(self) -> AsyncGenerator[Any, None]:
        """Every item of every page, each once."""
        async for page in self.pages():
            for item in page:
                yield item

    # -- state ------------------------------------------------------------------------------

    def _reset(self) -> None:
        self._params = dict(self._caller_params)
        self._body = copy.deepcopy(self._caller_body)
        self.pages_fetched = 0
        self.last_response = None
        self._received = 0
        self._first_id: str | None = None
        self._seen: set[str] = set()
        self._base: int | None = 0  # items before the caller's start; None when unknown
        paging = self.op.paging
        if paging is None:
            return
        if paging.in_body and self._body is None:
            self._body = {}
        limit_name = paging.params.get("limit")
        if limit_name and self._get(limit_name) is None:
            size = self.page_size
            if size is None and self._required(limit_name):
                size = paging.default_limit or paging.max_limit or _FALLBACK_LIMIT
            if size is not None:
                self._set(limit_name, min(size, paging.max_limit) if paging.max_limit else size)
        pos_name = self._role_name(paging, "skip", "offset")
        if pos_name and self._get(pos_name) is None and self._required(pos_name):
            self._set(pos_name, 0)
        self._pos = (_as_int(self._get(pos_name)) or 0) if pos_name else 0
        page_name = paging.params.get("page")
        self._page = (_as_int(self._get(page_name)) or 1) if page_name else 1
        started = any(_present(self._get(name)) for name in self._marker_names(paging))
        if started:
            self._check_marker(paging)  # the caller's own start marker counts as seen
        if paging.style in ("skip_limit", "offset_limit"):
            self._base = self._pos
        elif self._page != 1 or (started and paging.style != "page"):
            self._base = None  # the page style learns it from the first page's length

    @property
    def _fields(self) -> dict[str, Any]:
        paging = self.op.paging
        if paging is not None and paging.in_body and self._body is not None:
            return self._body
        return self._params

    def _get(self, name: str) -> Any:
        return self._fields.get(name)

    def _set(self, name: str, value: Any) -> None:
        """Write a paging field in the type the operation declares (some specs want strings)."""
        if value is None:
            self._fields.pop(name, None)
        elif self._declared_type(name) == "string" and not isinstance(value, str):
            self._fields[name] = str(value)
        else:
            self._fields[name] = value

    def _declared(self, name: str) -> tuple[dict[str, Any], bool]:
        """The field's schema and whether it is required, from the body or the params."""
        paging = self.op.paging
        if paging is not None and paging.in_body:
            schema = self.op.body.schema if self.op.body else {}
            props = schema.get("properties") or {}
            return props.get(name) or {}, name in (schema.get("required") or [])
        param = self.op.param(name)
        return (param.schema, param.required) if param else ({}, False)

    def _declared_type(self, name: str) -> str | None:
        typ = self._declared(name)[0].get("type")
        return str(typ) if typ else None

    def _required(self, name: str) -> bool:
        return self._declared(name)[1]

    @staticmethod
    def _roles(paging: Paging, roles: tuple[str, ...]) -> list[str]:
        return [r for r in roles if r in paging.params]

    def _role_name(self, paging: Paging, *roles: str) -> str | None:
        found = self._roles(paging, roles)
        return paging.params[found[0]] if found else None

    def _marker_names(self, paging: Paging) -> list[str]:
        return [paging.params[r] for r in self._roles(paging, _MARKER_ROLES[paging.style])]

    def _items_of(self, data: Any) -> list[Any]:
        path = self.op.response.items
        if path is None:
            return [data]
        found = extract(data, path)
        if found is None:
            return []
        return list(found) if isinstance(found, list) else [found]

    # -- loop guards ------------------------------------------------------------------------

    def _check_first_item(self, items: list[Any]) -> None:
        first = _identity(items[0])
        if first == self._first_id:
            raise PagingError(
                f"{self.op.id}: paging would loop: page {self.pages_fetched} starts with the "
                f"same item as the previous page ({first[:80]!r}); the server ignored the marker"
            )
        self._first_id = first

    def _check_marker(self, paging: Paging) -> None:
        values = {name: self._get(name) for name in self._marker_names(paging)}
        if all(v is None for v in values.values()):
            return
        key = json.dumps(values, sort_keys=True, default=str)
        if key in self._seen:
            shown = ", ".join(f"{k}={v!r}" for k, v in values.items() if v is not None)
            raise PagingError(f"{self.op.id}: paging would loop: {shown} was already requested")
        self._seen.add(key)

    @staticmethod
    def _said_no_more(paging: Paging, data: Any) -> bool:
        """The answer's has-more flag (``has_more_field``, e.g. ``pagination.hasMore``) is false."""
        field = paging.params.get("has_more_field")
        return field is not None and extract(data, field) is False

    def _total_reached(self, data: Any, position: int | None) -> bool:
        """A total stops paging only when it cannot be a per-page count.

        Several specs call their counter `count` without saying whether it counts the page or
        the collection; a count equal to this page's size is ambiguous, so it does not stop us
        (the cost is one request that comes back empty).
        """
        total = _as_int(extract(data, self.op.response.total)) if self.op.response.total else None
        if total is None or position is None or position < total:
            return False
        return not (total == len(self._items_of(data)) and total > 0 and self._may_count_page())

    def _may_count_page(self) -> bool:
        name = (self.op.response.total or "").rsplit(".", 1)[-1]
        return name == "count"

    # -- advancing, per style: set the next request's fields, or return False to stop -------

    def _advance(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        style = paging.style
        if style in ("skip_limit", "offset_limit"):
            return self._advance_offset(paging, data, items)
        if style == "page":
            return self._advance_page(paging, data, items)
        if style == "start_after":
            return self._advance_start_after(paging, data, items)
        if style == "start_after_date":
            return self._advance_start_after_date(paging, data, items)
        if style == "search_after":
            return self._advance_search_after(paging, data, items)
        return self._advance_token(paging, data, items)

    def _advance_offset(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        # Servers cap the page below the asked limit: advance by what came, never by the limit.
        self._pos += len(items)
        if self._total_reached(data, self._pos):
            return False
        self._set(self._marker_names(paging)[0], self._pos)
        return True

    def _advance_page(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        if self._base is None:
            self._base = (self._page - 1) * len(items)
        meta = data.get("meta") if isinstance(data, dict) else None
        if isinstance(meta, dict) and _PAGE_META_KEYS & meta.keys() and not meta.get("nextPage"):
            return False  # a page meta without a next page
        if self._total_reached(data, self._base + self._received):
            return False
        self._page += 1
        self._set(paging.params["page"], self._page)
        return True

    def _advance_start_after(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        names = {
            r: paging.params[r] for r in self._roles(paging, ("start_after", "start_after_id"))
        }
        page_name = paging.params.get("page")
        fields = {r: paging.params.get(r, d) for r, d in _START_AFTER_FIELDS.items()}
        said = False  # the answer speaks about the next page (possibly to say there is none)
        nxt: dict[str, Any] = {}
        found, url = _lookup(data, fields["next_url_field"])
        if found and not url:
            return False  # GHL nulls nextPageUrl on the last page, yet keeps meta.startAfter*
        if isinstance(url, str):
            for name in [*names.values(), *([page_name] if page_name else [])]:
                value = _query_value(url, name)
                if value is not None:
                    nxt[name] = value
        if not nxt:
            for role, field in (("start_after", "next_field"), ("start_after_id", "next_id_field")):
                found, value = _lookup(data, fields[field])
                said |= found
                if role in names and _present(value):
                    nxt[names[role]] = value
        if not nxt and not said:
            nxt = self._start_after_from_item(names, items[-1])
        if not any(_present(nxt.get(n)) for n in names.values()):
            return False
        for name, value in nxt.items():
            self._set(name, value)
        return True

    @staticmethod
    def _start_after_from_item(names: dict[str, str], item: Any) -> dict[str, Any]:
        """The last item's id and creation time (epoch ms) as the next startAfter pair."""
        ident = item.get("id", item.get("_id")) if isinstance(item, dict) else None
        if not _present(ident):
            return {}
        if "start_after_id" not in names:  # startAfter alone is the last id (conversation-ai)
            return {names["start_after"]: ident}
        nxt = {names["start_after_id"]: ident}
        if "start_after" in names:
            nxt[names["start_after"]] = _epoch_ms(item.get("dateAdded", item.get("createdAt")))
        return nxt

    def _advance_start_after_date(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        value = (
            extract(data, paging.params["next_field"]) if "next_field" in paging.params else None
        )
        last = items[-1]
        if not _present(value) and isinstance(last, dict):
            value = next(
                (
                    last[k]
                    for k in ("sort", "lastMessageDate", "dateUpdated")
                    if _present(last.get(k))
                ),
                None,
            )
        if isinstance(value, list) and len(value) == 1:
            value = value[0]
        if not _present(value):
            return False
        self._set(self._marker_names(paging)[0], value)
        return True

    def _advance_search_after(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        page_name = paging.params.get("page")
        if self._total_reached(data, None if self._base is None else self._base + self._received):
            return False
        value = (
            extract(data, paging.params["next_field"]) if "next_field" in paging.params else None
        )
        last = items[-1]
        if not _present(value) and isinstance(last, dict):
            value = next((last[k] for k in ("sort", "searchAfter") if _present(last.get(k))), None)
        if not _present(value) and not page_name:
            return False
        self._set(paging.params["search_after"], value if _present(value) else None)
        if page_name:
            self._page += 1
            self._set(page_name, self._page)
        return True

    def _advance_token(self, paging: Paging, data: Any, items: list[Any]) -> bool:
        name = self._marker_names(paging)[0]
        scopes = [data]
        items_path = self.op.response.items or ""
        if "." in items_path:
            scopes.append(extract(data, items_path.rsplit(".", 1)[0]))
        if isinstance(data, dict):
            scopes += [data.get("meta"), data.get("pagination")]
        scopes = [s for s in scopes if isinstance(s, dict)]
        if any(s.get(flag) is False for s in scopes for flag in _MORE_FLAGS):
            return False
        if "next_field" in paging.params:
            value = extract(data, paging.params["next_field"])
        else:
            candidates = (*_NEXT_NAMES, name, *_OTHER_TOKEN_NAMES)
            value = next((s[c] for c in candidates for s in scopes if _present(s.get(c))), None)
        if not _present(value) and paging.style == "last_id" and isinstance(items[-1], dict):
            value = items[-1].get("id", items[-1].get("_id"))
        if isinstance(value, str) and value.startswith(("http://", "https://")):
            value = _query_value(value, name) or value
        if not _present(value):
            return False
        self._set(name, value)
        return True
