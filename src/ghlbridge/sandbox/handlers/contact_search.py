"""The language of ``POST /contacts/search`` (GHL's advanced contact search): filters, sort
and paging over a location's contacts; the handler is `contacts.search_contacts`.

Body: `locationId`, `query` (text in name, email, phone or company), `filters`, `sort`,
`pageLimit` (1 to 500, default 20), and `page` (page numbers reach the first 10,000 matches)
or `searchAfter` (the marker every returned contact carries; it wins over `page`).
The answer is ``{contacts, total}``, `total` counting every match.

`filters` are ANDed; each is ``{field, operator, value}`` or ``{group: "AND"|"OR", filters}``.
Operators: eq, not_eq, contains, not_contains, exists, not_exists, range (`value` holds gt,
gte, lt, lte) and gt, gte, lt, lte. A field is any contact field, by name or dotted path
(``dndSettings.SMS.status``); list fields such as `tags` match when one element does (an `eq`
value may be a list: any of them); ``customFields.<id or key>`` reads a custom field. Text
compares case-insensitively, numeric text as numbers, dates (dateAdded, dateUpdated, ...) as
instants given as ISO strings or epoch milliseconds. A malformed filter is GHL's 422.

`sort` is ``[{field, direction: asc|desc}]``; ties (and no sort) go oldest first, then by id.
Missing values sort last. A `searchAfter` marker is ``[*sort values, creation ms, id]``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import cmp_to_key
from typing import Any, NamedTuple

from ghlbridge.sandbox.errors import bad_request, unprocessable
from ghlbridge.sandbox.handlers.custom_fields import find_field
from ghlbridge.sandbox.state import Collection, LocationState, Record

MAX_PAGE_LIMIT = 500
DEFAULT_PAGE_LIMIT = 20
PAGE_WINDOW = 10_000
OPERATORS = (
    "eq", "not_eq", "contains", "not_contains", "exists", "not_exists", "range",
    "gt", "gte", "lt", "lte",
)  # fmt: skip
_BOUNDS = ("gt", "gte", "lt", "lte")
_DATE_FIELDS = frozenset({"dateAdded", "dateUpdated", "dateOfBirth", "lastActivity"})
_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_KIND_RANK = {"n": 0, "s": 1, "b": 2}

Value = tuple[str, Any]
"""A comparable value: ("n", float) for numbers and instants, ("s", lower text), ("b", bool)."""
Predicate = Callable[[Record], bool]


class SortKey(NamedTuple):
    values: tuple[Value | None, ...]
    created_ms: int
    id: str


# -- values ----------------------------------------------------------------------------------
def _is_date(field: str) -> bool:
    return field in _DATE_FIELDS or field.endswith("At")


def epoch_ms(text: str) -> int | None:
    """Epoch milliseconds from digits or an ISO 8601 date (UTC when it names no zone)."""
    if text.isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def normalize(field: str, raw: Any) -> Value:
    if isinstance(raw, bool):
        return ("b", raw)
    if isinstance(raw, int | float):
        return ("n", float(raw))
    text = str(raw).strip()
    if _is_date(field):
        ms = epoch_ms(text)
        if ms is not None:
            return ("n", float(ms))
    low = text.lower()
    if low in ("true", "false"):
        return ("b", low == "true")
    if _NUMBER.fullmatch(text):
        return ("n", float(text))
    return ("s", low)


def _raw_values(loc: LocationState, record: Record, field: str) -> list[Any]:
    """The values a contact holds at `field`, lists flattened, empty ones dropped."""
    head, _, rest = field.partition(".")
    if head in ("customFields", "customField") and rest:
        known = find_field(loc, rest)
        field_id = known["id"] if known else rest
        found = [f.get("value") for f in record.get("customFields") or [] if f["id"] == field_id]
    else:
        node: Any = record
        for part in field.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        found = [node]
    flat: list[Any] = []
    for value in found:
        flat.extend(value if isinstance(value, list) else [value])
    return [v for v in flat if v is not None and v != ""]


# -- filters -----------------------------------------------------------------------------------
def _within(value: Value, bound: str, limit: Value) -> bool:
    if value[0] != limit[0]:
        return False
    if bound == "gt":
        return bool(value[1] > limit[1])
    if bound == "gte":
        return bool(value[1] >= limit[1])
    if bound == "lt":
        return bool(value[1] < limit[1])
    return bool(value[1] <= limit[1])


def _test(loc: LocationState, field: str, op: str, wanted: Any, record: Record) -> bool:
    raw = _raw_values(loc, record, field)
    values = [normalize(field, v) for v in raw]
    if op in ("exists", "not_exists"):
        return bool(values) == (op == "exists")
    if op in ("eq", "not_eq"):
        options = [normalize(field, w) for w in (wanted if isinstance(wanted, list) else [wanted])]
        return any(v in options for v in values) == (op == "eq")
    if op in ("contains", "not_contains"):
        needle = str(wanted).strip().lower()
        return any(needle in str(v).lower() for v in raw) == (op == "contains")
    bounds = dict(wanted) if op == "range" else {op: wanted}
    limits = {b: normalize(field, bounds[b]) for b in _BOUNDS if bounds.get(b) is not None}
    return any(all(_within(v, b, lim) for b, lim in limits.items()) for v in values)


def compile_filters(
    loc: LocationState, items: Any, path: str, errors: list[str]
) -> list[Predicate]:
    """Predicates for a filter list; problems are appended to `errors` (class-validator style)."""
    if not isinstance(items, list):
        errors.append(f"{path} must be an array")
        return []
    out: list[Predicate] = []
    for i, item in enumerate(items):
        predicate = _compile_one(loc, item, f"{path}.{i}", errors)
        if predicate is not None:
            out.append(predicate)
    return out


def _compile_one(loc: LocationState, item: Any, path: str, errors: list[str]) -> Predicate | None:
    if not isinstance(item, Mapping):
        errors.append(f"{path} must be an object")
        return None
    if "group" in item:
        group = str(item["group"]).upper()
        if group not in ("AND", "OR"):
            errors.append(f"{path}.group must be one of the following values: AND, OR")
        parts = compile_filters(loc, item.get("filters"), f"{path}.filters", errors)
        if group == "OR":
            return lambda r: any(p(r) for p in parts)
        return lambda r: all(p(r) for p in parts)
    field, op, wanted = item.get("field"), item.get("operator"), item.get("value")
    before = len(errors)
    if not isinstance(field, str) or not field:
        errors.append(f"{path}.field should not be empty")
    if op not in OPERATORS:
        choices = ", ".join(OPERATORS)
        errors.append(f"{path}.operator must be one of the following values: {choices}")
    elif op == "range":
        if not isinstance(wanted, Mapping) or not any(wanted.get(b) is not None for b in _BOUNDS):
            errors.append(f"{path}.value must be an object with gt, gte, lt or lte")
    elif op not in ("exists", "not_exists") and (wanted is None or wanted == ""):
        errors.append(f"{path}.value should not be empty")
    if len(errors) > before:
        return None
    return lambda r: _test(loc, str(field), str(op), wanted, r)


# -- sort and paging ----------------------------------------------------------------------------
def _sort_fields(sort: Any, errors: list[str]) -> list[tuple[str, bool]]:
    """(field, descending) pairs of the body's `sort`."""
    if sort is None:
        return []
    if not isinstance(sort, list):
        errors.append("sort must be an array")
        return []
    out: list[tuple[str, bool]] = []
    for i, item in enumerate(sort):
        field = item.get("field") if isinstance(item, Mapping) else None
        direction = str(item.get("direction", "asc")).lower() if isinstance(item, Mapping) else ""
        if not isinstance(field, str) or not field:
            errors.append(f"sort.{i}.field should not be empty")
        elif direction not in ("asc", "desc"):
            errors.append(f"sort.{i}.direction must be one of the following values: asc, desc")
        else:
            out.append((field, direction == "desc"))
    return out


def _compare_values(a: Value | None, b: Value | None, descending: bool) -> int:
    if a is None or b is None:
        return (a is None) - (b is None)  # missing values last, whatever the direction
    left, right = (_KIND_RANK[a[0]], a[1]), (_KIND_RANK[b[0]], b[1])
    order = (left > right) - (left < right)
    return -order if descending else order


def _comparator(fields: Sequence[tuple[str, bool]]) -> Callable[[SortKey, SortKey], int]:
    def compare(a: SortKey, b: SortKey) -> int:
        for (_, descending), x, y in zip(fields, a.values, b.values, strict=True):
            order = _compare_values(x, y, descending)
            if order:
                return order
        tail_a, tail_b = (a.created_ms, a.id), (b.created_ms, b.id)
        return (tail_a > tail_b) - (tail_a < tail_b)

    return compare


def _sort_value(loc: LocationState, record: Record, field: str) -> Value | None:
    raw = _raw_values(loc, record, field)
    return normalize(field, raw[0]) if raw else None


def _marker(key: SortKey) -> list[Any]:
    values = [None if v is None else _plain(v[1]) for v in key.values]
    return [*values, key.created_ms, key.id]


def _plain(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _marker_key(marker: list[Any], fields: Sequence[tuple[str, bool]]) -> SortKey:
    if len(marker) != len(fields) + 2 or not isinstance(marker[-2], int | float):
        raise unprocessable(["searchAfter must be the searchAfter of a contact of the last page"])
    values = tuple(
        None if v is None else normalize(f, v) for (f, _), v in zip(fields, marker, strict=False)
    )
    return SortKey(values, int(marker[-2]), str(marker[-1]))


def _int(value: Any, default: int, name: str, errors: list[str]) -> int:
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        errors.append(f"{name} must be a number")
        return default
    try:
        return int(float(value))
    except ValueError:
        errors.append(f"{name} must be a number")
        return default


def search(
    loc: LocationState, contacts: Collection, records: list[Record] | None, body: Mapping[str, Any]
) -> tuple[list[Record], int]:
    """The page of `records` (text-matched already; None: every contact) that the body's
    filters, sort and paging select, each with its `searchAfter`, and the match count.

    With neither text, filters nor sort, the order is the collection's own and the page is
    found by bisection, O(log n + page), instead of sorting every contact."""
    errors: list[str] = []
    predicates = compile_filters(loc, body.get("filters") or [], "filters", errors)
    fields = _sort_fields(body.get("sort"), errors)
    limit = _int(body.get("pageLimit"), DEFAULT_PAGE_LIMIT, "pageLimit", errors)
    if not 1 <= limit <= MAX_PAGE_LIMIT:
        errors.append(f"pageLimit must be between 1 and {MAX_PAGE_LIMIT}")
    page = _int(body.get("page"), 1, "page", errors)
    if page < 1:
        errors.append("page must not be less than 1")
    if errors:
        raise unprocessable(errors)
    if records is None and not predicates and not fields:
        return _page_in_creation_order(contacts, body.get("searchAfter"), page, limit)
    if records is None:
        records = list(contacts)

    created = {e.id: e.sort_ms for e in contacts.entries(records)}
    compare = _comparator(fields)
    keyed: list[tuple[SortKey, Record]] = [
        (SortKey(tuple(_sort_value(loc, r, f) for f, _ in fields), created[r["id"]], r["id"]), r)
        for r in records
        if all(p(r) for p in predicates)
    ]
    keyed.sort(key=lambda row: cmp_to_key(compare)(row[0]))
    marker = body.get("searchAfter")
    if isinstance(marker, list) and marker:
        after = _marker_key(marker, fields)
        start = next((i for i, (k, _) in enumerate(keyed) if compare(k, after) > 0), len(keyed))
        end = start + limit
    else:
        start = (page - 1) * limit
        if start >= PAGE_WINDOW:
            raise bad_request(
                f"page and pageLimit reach the first {PAGE_WINDOW} results only; "
                "page further with searchAfter"
            )
        end = min(start + limit, PAGE_WINDOW)
    rows = [{**r, "searchAfter": _marker(k)} for k, r in keyed[start:end]]
    return rows, len(keyed)


def _page_in_creation_order(
    contacts: Collection, marker: Any, page: int, limit: int
) -> tuple[list[Record], int]:
    """`search` for every contact, oldest first: the same page, found by bisection."""
    ordered = contacts.ordered()
    if isinstance(marker, list) and marker:
        after = _marker_key(marker, ())
        start = ordered.after((after.created_ms, after.id))
        end = start + limit
    else:
        start = (page - 1) * limit
        if start >= PAGE_WINDOW:
            raise bad_request(
                f"page and pageLimit reach the first {PAGE_WINDOW} results only; "
                "page further with searchAfter"
            )
        end = min(start + limit, PAGE_WINDOW)
    rows = [
        {**record, "searchAfter": [e.sort_ms, e.id]}
        for e in ordered[start:end]
        if (record := contacts.get(e.id)) is not None
    ]
    return rows, len(ordered)
