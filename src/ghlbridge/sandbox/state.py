"""The sandbox's in-memory data: a company, its locations, and per location one `Collection`
per stateful resource.

A resource plugs in by declaring a `ResourceSpec` (its id and timestamp field names) next to
its handlers; `LocationState.collection(spec)` creates the collection on first use. Records
are plain JSON dicts in GHL's response shape, kept in creation order; every record gets a
distinct creation millisecond from `Clock`, so cursor paging by (time, id) is exact, and each
collection keeps those keys in order (`Collection.ordered`) for paging by bisection.

Every create, update and delete is announced as a `Change` to the world's subscribers (the
webhook sender and tests subscribe), with copies of the record before and after.
"""

from __future__ import annotations

import copy
import time
from bisect import bisect_left, insort
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from ghlbridge.sandbox.ids import IdFactory
from ghlbridge.sandbox.paging import Entry, OrderedEntries, sort_entries

Record = dict[str, Any]


class Clock:
    """Wall-clock milliseconds that never repeat, so creation order is also time order."""

    def __init__(self, now: Callable[[], float] = time.time) -> None:
        self._now = now
        self._last = 0

    def now_ms(self) -> int:
        ms = int(self._now() * 1000)
        if ms <= self._last:
            ms = self._last + 1
        self._last = ms
        return ms


def iso(ms: int) -> str:
    """GHL's timestamp format: ISO 8601, UTC, milliseconds, ``Z``."""
    stamp = datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ResourceSpec:
    """How one resource's records look: the names of its id, location and timestamp fields."""

    name: str
    id_field: str = "id"
    location_field: str | None = "locationId"
    created_field: str | None = "dateAdded"
    updated_field: str | None = "dateUpdated"


@dataclass(frozen=True, slots=True)
class Change:
    """One write to the data; `record` is the state after it (before it, for a delete)."""

    resource: str
    action: Literal["create", "update", "delete"]
    location_id: str
    record: Record
    previous: Record | None = None


ChangeListener = Callable[[Change], None]


class Collection:
    """One resource's records in one location."""

    def __init__(
        self,
        spec: ResourceSpec,
        location_id: str,
        ids: IdFactory,
        clock: Clock,
        emit: ChangeListener | None = None,
    ) -> None:
        self.spec = spec
        self.location_id = location_id
        self._ids = ids
        self._clock = clock
        self._emit = emit
        self._records: dict[str, Record] = {}
        self._created_ms: dict[str, int] = {}
        self._order: list[Entry] = []  # paging keys, oldest first: kept, not sorted per page

    def _announce(
        self, action: Literal["create", "update", "delete"], record: Record, previous: Record | None
    ) -> None:
        if self._emit is not None:
            self._emit(
                Change(self.spec.name, action, self.location_id, copy.deepcopy(record), previous)
            )

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Record]:
        return iter(list(self._records.values()))

    def __contains__(self, record_id: object) -> bool:
        return record_id in self._records

    def get(self, record_id: str) -> Record | None:
        return self._records.get(record_id)

    def find(self, predicate: Callable[[Record], bool]) -> Record | None:
        return next((r for r in self._records.values() if predicate(r)), None)

    def create(self, fields: Mapping[str, Any], *, record_id: str | None = None) -> Record:
        """Store a new record: id, location and timestamps set here, then `fields`."""
        spec = self.spec
        record_id = record_id or self._ids.new_id()
        if record_id in self._records:
            raise ValueError(f"{spec.name} {record_id} already exists")
        ms = self._clock.now_ms()
        record: Record = {spec.id_field: record_id}
        if spec.location_field:
            record[spec.location_field] = self.location_id
        record.update(fields)
        if spec.created_field:
            record[spec.created_field] = iso(ms)
        if spec.updated_field:
            record[spec.updated_field] = iso(ms)
        self._records[record_id] = record
        self._created_ms[record_id] = ms
        entry = Entry(record_id, ms)
        if self._order and self._order[-1].key > entry.key:
            insort(self._order, entry, key=lambda e: e.key)  # not met: `Clock` only goes on
        else:
            self._order.append(entry)
        self._announce("create", record, None)
        return record

    def update(self, record_id: str, fields: Mapping[str, Any]) -> Record:
        """Overwrite the given fields (GHL's PUT semantics for the fields sent)."""
        record = self._records[record_id]
        previous = copy.deepcopy(record) if self._emit is not None else None
        record.update(fields)
        if self.spec.updated_field:
            record[self.spec.updated_field] = iso(self._clock.now_ms())
        self._announce("update", record, previous)
        return record

    def touch(self, record_id: str) -> Record:
        return self.update(record_id, {})

    def delete(self, record_id: str) -> Record | None:
        ms = self._created_ms.pop(record_id, None)
        if ms is not None:
            i = bisect_left(self._order, (ms, record_id), key=lambda e: e.key)
            if i < len(self._order) and self._order[i].id == record_id:
                del self._order[i]
        record = self._records.pop(record_id, None)
        if record is not None:
            self._announce("delete", record, None)
        return record

    def entries(self, records: list[Record] | None = None) -> list[Entry]:
        """Paging keys (creation ms, id) of `records` (default: all), oldest first."""
        if records is None:
            return list(self._order)
        idf = self.spec.id_field
        return sort_entries([Entry(str(r[idf]), self._created_ms[str(r[idf])]) for r in records])

    def ordered(self) -> OrderedEntries:
        """Every record's paging key, oldest first, as a view `window` pages by bisection."""
        return OrderedEntries(self._order, self._created_ms)


Seeder = Callable[["LocationState", int], None]
"""Fills a new location with `n` demo records of one resource."""


class LocationState:
    """One sub-account: its settings and its resources' collections."""

    def __init__(
        self,
        location_id: str,
        company_id: str,
        name: str,
        ids: IdFactory,
        clock: Clock,
        emit: ChangeListener | None = None,
    ) -> None:
        self.id = location_id
        self.company_id = company_id
        self.name = name
        self.address = "1 Sandbox Way, Springfield"
        self.allow_duplicate_contacts = False
        self.clock = clock
        self._ids = ids
        self._emit = emit
        self._collections: dict[str, Collection] = {}

    def collection(self, spec: ResourceSpec) -> Collection:
        coll = self._collections.get(spec.name)
        if coll is None:
            coll = Collection(spec, self.id, self._ids, self.clock, self._emit)
            self._collections[spec.name] = coll
        elif coll.spec != spec:
            raise ValueError(f"resource {spec.name!r} declared twice with different specs")
        return coll

    def new_id(self) -> str:
        return self._ids.new_id()


class World:
    """The company (agency) and every location the sandbox holds."""

    def __init__(
        self,
        company_id: str,
        ids: IdFactory,
        clock: Clock,
        *,
        seeders: tuple[Seeder, ...] = (),
        demo_records: int = 0,
    ) -> None:
        self.company_id = company_id
        self.clock = clock
        self._ids = ids
        self._seeders = seeders
        self._demo_records = demo_records
        self._listeners: list[ChangeListener] = []
        self.locations: dict[str, LocationState] = {}

    def subscribe(self, listener: ChangeListener) -> Callable[[], None]:
        """Call `listener` on every change; returns the function that unsubscribes it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, change: Change) -> None:
        for listener in list(self._listeners):
            listener(change)

    def add_location(
        self, location_id: str | None = None, name: str | None = None
    ) -> LocationState:
        location_id = location_id or self._ids.new_id()
        if location_id in self.locations:
            raise ValueError(f"location {location_id} already exists")
        loc = LocationState(
            location_id,
            self.company_id,
            name or f"Sandbox Location {len(self.locations) + 1}",
            self._ids,
            self.clock,
            self._emit,
        )
        self.locations[location_id] = loc
        for seed in self._seeders:
            seed(loc, self._demo_records)
        return loc

    def location(self, location_id: str | None) -> LocationState | None:
        return self.locations.get(location_id) if location_id else None

    def find(self, spec: ResourceSpec, record_id: str) -> tuple[LocationState, Record] | None:
        """A record by id in whichever location holds it (for URLs that name no location)."""
        for loc in self.locations.values():
            record = loc.collection(spec).get(record_id)
            if record is not None:
                return loc, record
        return None
