"""The curated layer: the brief's 124 named triggers/actions and GHL's webhook events.

``data/curated.yaml`` maps each named trigger or action of the product brief onto ONE catalog
operation, with connection-filled defaults and polling hints; it also lists every GHL webhook
event with the scope it needs, and the retry safety of GHL writes (which writes may be sent
twice, which creates have an upsert twin) that the flow engine relies on after a crash.
The file is validated against the catalog when it is loaded, so a typo fails fast with the
YAML file, line and entry named.

Besides the named entries, every list/search read of the catalog can be a polling trigger
(`polling_candidates`).

Defaults may only use ``{{ connection.<name> }}`` placeholders (no template engine here);
`resolve_defaults` fills them from a connection's context, e.g.
``{"location_id": "loc123", "company_id": "co456"}``.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, cast

import yaml

from ghlbridge.catalog.model import Operation
from ghlbridge.catalog.registry import Catalog, UnknownOperationError, load_catalog

CURATED_PATH = Path(__file__).parent / "data" / "curated.yaml"

CuratedKind = Literal["trigger", "action"]
DefaultValue = str | int | float | bool

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{\{\s*connection\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_TEMPLATE_MARKERS = ("{{", "}}", "{%", "%}", "{#", "#}")

_OP_REQUIRED = ("name", "title", "category", "kind", "op", "description")
_OP_OPTIONAL = ("defaults", "poll")
_POLL_KEYS = ("id_field", "updated_field")
_EVENT_REQUIRED = ("type", "name", "app", "scope", "scope_documented", "type_documented", "doc")
_EVENT_OPTIONAL = ("note",)


class CuratedError(ValueError):
    """The curated YAML is malformed or disagrees with the catalog."""


class UnknownCuratedError(LookupError):
    """A curated name that `curated.yaml` does not hold; carries close matches."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown curated trigger/action {name!r}{hint}")
        self.name = name
        self.suggestions = suggestions


@dataclass(frozen=True, slots=True)
class PollHints:
    """How a polling trigger tells items apart: the id field and the last-modified field."""

    id_field: str
    updated_field: str | None = None


@dataclass(frozen=True, slots=True)
class CuratedOperation:
    """A named trigger or action of the brief, mapped onto one catalog operation."""

    name: str
    title: str
    category: str
    kind: CuratedKind
    op_id: str
    description: str
    defaults: Mapping[str, DefaultValue] = field(
        default_factory=lambda: MappingProxyType({}), hash=False
    )
    poll: PollHints | None = None

    @property
    def is_trigger(self) -> bool:
        return self.kind == "trigger"

    @property
    def is_action(self) -> bool:
        return self.kind == "action"


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A GHL webhook event type a flow can be triggered by."""

    type: str
    name: str
    app: str
    scope: str | None
    scope_documented: bool
    type_documented: bool
    doc: str | None
    note: str | None = None


class Curated:
    """The validated contents of ``curated.yaml``."""

    def __init__(
        self,
        operations: list[CuratedOperation],
        webhook_events: list[WebhookEvent],
        *,
        idempotent_writes: frozenset[str] = frozenset(),
        upsert_twins: Mapping[str, str] | None = None,
    ) -> None:
        self.idempotent_writes = idempotent_writes
        self.upsert_twins: Mapping[str, str] = MappingProxyType(dict(upsert_twins or {}))
        self._ops = {entry.name: entry for entry in operations}
        self._order = list(operations)
        self._events = list(webhook_events)
        self._events_by_type = {event.type: event for event in webhook_events}
        self._by_op: dict[str, list[CuratedOperation]] = {}
        for entry in operations:
            self._by_op.setdefault(entry.op_id, []).append(entry)

    def __len__(self) -> int:
        return len(self._order)

    def __iter__(self) -> Iterator[CuratedOperation]:
        return iter(self._order)

    def __contains__(self, name: object) -> bool:
        return name in self._ops

    def get(self, name: str) -> CuratedOperation:
        """The entry with this name; `UnknownCuratedError` (with suggestions) otherwise."""
        try:
            return self._ops[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._ops), n=3, cutoff=0.6)
            raise UnknownCuratedError(name, close) from None

    def find(self, name_or_title: str) -> CuratedOperation | None:
        """The entry with this name or (case-insensitively) title, or None."""
        if name_or_title in self._ops:
            return self._ops[name_or_title]
        wanted = name_or_title.strip().casefold()
        for entry in self._order:
            if entry.title.casefold() == wanted:
                return entry
        return None

    def operations(self) -> list[CuratedOperation]:
        """Every entry, in the brief's order."""
        return list(self._order)

    def actions(self) -> list[CuratedOperation]:
        return [entry for entry in self._order if entry.kind == "action"]

    def triggers(self) -> list[CuratedOperation]:
        return [entry for entry in self._order if entry.kind == "trigger"]

    def by_op(self, op_id: str) -> list[CuratedOperation]:
        """The entries mapped onto a catalog operation (several names may share one)."""
        return list(self._by_op.get(op_id, []))

    def webhook_events(self) -> list[WebhookEvent]:
        return list(self._events)

    def webhook_event(self, event_type: str) -> WebhookEvent | None:
        """The event with this payload `type` string, or None."""
        return self._events_by_type.get(event_type)

    def is_idempotent_write(self, op_id: str) -> bool:
        """A write (not PUT/DELETE) that has the effect of one when sent twice."""
        return op_id in self.idempotent_writes

    def upsert_twin(self, op_id: str) -> str | None:
        """The upsert to send instead of the create `op_id` when its outcome is unknown."""
        return self.upsert_twins.get(op_id)

    @classmethod
    def from_yaml(cls, text: str, catalog: Catalog, source: str = "curated.yaml") -> Curated:
        """Parse and validate YAML text against `catalog`; `CuratedError` names what is wrong."""
        return _Parser(text, catalog, source).parse()


@lru_cache(maxsize=4)
def _load(catalog: Catalog, path: Path) -> Curated:
    return Curated.from_yaml(path.read_text(encoding="utf-8"), catalog, str(path))


def load_curated(catalog: Catalog | None = None) -> Curated:
    """The packaged curated layer, validated against `catalog` (default: the packaged one)."""
    return _load(catalog if catalog is not None else load_catalog(), CURATED_PATH)


def polling_candidates(catalog: Catalog | None = None) -> list[Operation]:
    """Every catalog operation that reads a list of items: each can drive a polling trigger."""
    cat = catalog if catalog is not None else load_catalog()
    return sorted((op for op in cat if op.is_list), key=lambda op: op.id)


def resolve_defaults(
    entry: CuratedOperation, connection_context: Mapping[str, Any]
) -> dict[str, Any]:
    """The entry's defaults with ``{{ connection.<name> }}`` filled from `connection_context`.

    A default whose placeholder names a value the connection does not have (missing or None) is
    left out, so the call goes without it rather than with an empty string. A value that is
    exactly one placeholder keeps the context value's type. Explicit user input should be laid
    over the result: ``{**resolve_defaults(entry, ctx), **user_values}``.
    """
    resolved: dict[str, Any] = {}
    for key, value in entry.defaults.items():
        if not isinstance(value, str):
            resolved[key] = value
            continue
        names = _PLACEHOLDER_RE.findall(value)
        if any(connection_context.get(name) is None for name in names):
            continue
        whole = _PLACEHOLDER_RE.fullmatch(value.strip())
        if whole:
            resolved[key] = connection_context[whole.group(1)]
        else:
            resolved[key] = _PLACEHOLDER_RE.sub(
                lambda m: str(connection_context[m.group(1)]), value
            )
    return resolved


def split_params_body(
    op: Operation, values: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route resolved defaults to the operation's parameters or to its JSON body fields."""
    params: dict[str, Any] = {}
    body: dict[str, Any] = {}
    for key, value in values.items():
        if op.param(key) is not None:
            params[key] = value
        else:
            body[key] = value
    return params, body


def body_fields(op: Operation) -> set[str] | None:
    """Top-level body field names; None when the op takes a free-form body (no declared fields)."""
    if op.body is None:
        return set()
    props = op.body.schema.get("properties")
    if not props:
        return None
    return set(props)


def list_item_fields(op: Operation) -> set[str]:
    """Field names of a list operation's items, as far as the response schema declares them."""
    if op.response.items is None or not op.response.schema:
        return set()
    node: Any = op.response.schema
    for part in op.response.items.split(".") if op.response.items else []:
        node = (node.get("properties") or {}).get(part) if isinstance(node, dict) else None
    items = node.get("items") if isinstance(node, dict) else None
    props = items.get("properties") if isinstance(items, dict) else None
    return set(props) if isinstance(props, dict) else set()


# --------------------------------------------------------------------------- parsing


class _Parser:
    def __init__(self, text: str, catalog: Catalog, source: str) -> None:
        self.text = text
        self.catalog = catalog
        self.source = source
        self.lines: dict[tuple[str, int], tuple[int, dict[str, int]]] = {}

    def fail(self, where: str, message: str, line: int | None = None) -> CuratedError:
        at = f"{self.source}:{line}" if line else self.source
        return CuratedError(f"{at}: {where}: {message}")

    def parse(self) -> Curated:
        try:
            root_node = yaml.compose(self.text, Loader=yaml.SafeLoader)
            data = yaml.safe_load(self.text)
        except yaml.YAMLError as exc:
            raise CuratedError(f"{self.source}: invalid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise CuratedError(f"{self.source}: expected a mapping with `operations` at the top")
        self._index_lines(root_node)
        unknown = set(data) - {"operations", "webhook_events", "retry_safety"}
        if unknown:
            raise CuratedError(f"{self.source}: unknown top-level key(s): {sorted(unknown)}")
        ops_data = data.get("operations")
        if not isinstance(ops_data, list):
            raise CuratedError(f"{self.source}: `operations` must be a list")
        events_data = data.get("webhook_events", [])
        if not isinstance(events_data, list):
            raise CuratedError(f"{self.source}: `webhook_events` must be a list")

        operations: list[CuratedOperation] = []
        seen: dict[str, int] = {}
        for i, raw in enumerate(ops_data):
            entry = self._operation(i, raw)
            if entry.name in seen:
                raise self.fail(
                    self._where("operations", i, entry.name),
                    f"duplicate name {entry.name!r} (first at operations[{seen[entry.name]}])",
                    self._line("operations", i, "name"),
                )
            seen[entry.name] = i
            operations.append(entry)

        events: list[WebhookEvent] = []
        seen_types: dict[str, int] = {}
        seen_names: dict[str, int] = {}
        for i, raw in enumerate(events_data):
            event = self._event(i, raw)
            where = self._where("webhook_events", i, event.type)
            if event.type in seen_types:
                raise self.fail(
                    where, f"duplicate type {event.type!r}", self._line("webhook_events", i, "type")
                )
            if event.name in seen_names:
                raise self.fail(
                    where, f"duplicate name {event.name!r}", self._line("webhook_events", i, "name")
                )
            seen_types[event.type] = seen_names[event.name] = i
            events.append(event)
        writes, twins = self._retry_safety(data.get("retry_safety"))
        return Curated(operations, events, idempotent_writes=writes, upsert_twins=twins)

    # ---- line numbers

    def _index_lines(self, root: Any) -> None:
        if not isinstance(root, yaml.MappingNode):
            return
        for key_node, value_node in root.value:
            section = getattr(key_node, "value", None)
            if section not in ("operations", "webhook_events"):
                continue
            if not isinstance(value_node, yaml.SequenceNode):
                continue
            for i, item in enumerate(value_node.value):
                fields: dict[str, int] = {}
                if isinstance(item, yaml.MappingNode):
                    for k, v in item.value:
                        fields[str(k.value)] = v.start_mark.line + 1
                self.lines[(section, i)] = (item.start_mark.line + 1, fields)

    def _line(self, section: str, index: int, field_name: str | None = None) -> int | None:
        entry = self.lines.get((section, index))
        if entry is None:
            return None
        start, fields = entry
        return fields.get(field_name, start) if field_name else start

    @staticmethod
    def _where(section: str, index: int, label: object) -> str:
        return f"{section}[{index}]" + (f" ({label!r})" if isinstance(label, str) else "")

    # ---- operations

    def _operation(self, i: int, raw: Any) -> CuratedOperation:
        section = "operations"
        label = raw.get("name") if isinstance(raw, dict) else None
        where = self._where(section, i, label)
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a mapping", self._line(section, i))
        for key in _OP_REQUIRED:
            if key not in raw or raw[key] is None:
                raise self.fail(where, f"missing field {key!r}", self._line(section, i))
        unknown = set(raw) - set(_OP_REQUIRED) - set(_OP_OPTIONAL)
        if unknown:
            raise self.fail(where, f"unknown field(s) {sorted(unknown)}", self._line(section, i))
        for key in _OP_REQUIRED:
            if not isinstance(raw[key], str) or not raw[key].strip():
                raise self.fail(
                    where, f"{key!r} must be a non-empty string", self._line(section, i, key)
                )
        name = str(raw["name"])
        if not _NAME_RE.match(name):
            raise self.fail(
                where, f"name {name!r} is not snake_case", self._line(section, i, "name")
            )
        kind = raw["kind"]
        if kind not in ("trigger", "action"):
            raise self.fail(
                where,
                f"kind {kind!r} must be 'trigger' or 'action'",
                self._line(section, i, "kind"),
            )
        description = str(raw["description"])
        if "\n" in description.strip():
            raise self.fail(
                where, "description must be one line", self._line(section, i, "description")
            )
        try:
            op = self.catalog.get(str(raw["op"]))
        except UnknownOperationError as exc:
            raise self.fail(where, str(exc), self._line(section, i, "op")) from None
        defaults = self._defaults(i, where, op, raw.get("defaults"))
        poll = self._poll(i, where, op, kind, raw)
        return CuratedOperation(
            name=name,
            title=str(raw["title"]),
            category=str(raw["category"]),
            kind=cast(CuratedKind, kind),
            op_id=op.id,
            description=description.strip(),
            defaults=MappingProxyType(defaults),
            poll=poll,
        )

    def _defaults(self, i: int, where: str, op: Operation, raw: Any) -> dict[str, DefaultValue]:
        line = self._line("operations", i, "defaults")
        if raw is None:
            return {}
        if not isinstance(raw, dict):
            raise self.fail(where, "defaults must be a mapping", line)
        fields = body_fields(op)
        out: dict[str, DefaultValue] = {}
        for key, value in raw.items():
            if not isinstance(key, str):
                raise self.fail(where, f"defaults key {key!r} must be a string", line)
            if op.param(key) is None and fields is not None and key not in fields:
                known = sorted({p.name for p in op.params} | fields)
                raise self.fail(
                    where,
                    f"defaults name {key!r}, which is neither a parameter nor a body field of "
                    f"{op.id} (known: {', '.join(known) or 'none'})",
                    line,
                )
            if isinstance(value, bool | int | float):
                out[key] = value
                continue
            if not isinstance(value, str):
                raise self.fail(
                    where, f"defaults.{key}: only strings, numbers and booleans are allowed", line
                )
            leftover = _PLACEHOLDER_RE.sub("", value)
            if any(marker in leftover for marker in _TEMPLATE_MARKERS):
                raise self.fail(
                    where,
                    f"defaults.{key}: {value!r}: only `{{{{ connection.<name> }}}}` "
                    "placeholders are allowed",
                    line,
                )
            out[key] = value
        return out

    def _poll(
        self, i: int, where: str, op: Operation, kind: str, raw: dict[str, Any]
    ) -> PollHints | None:
        line = self._line("operations", i, "poll")
        if kind == "action":
            if raw.get("poll") is not None:
                raise self.fail(where, "poll hints are for triggers only", line)
            return None
        if "poll" not in raw:
            raise self.fail(
                where,
                "missing field 'poll' (a trigger states its polling hints, or null for a look-up)",
                self._line("operations", i),
            )
        poll = raw["poll"]
        if poll is None:
            return None
        if not isinstance(poll, dict):
            raise self.fail(where, "poll must be a mapping or null", line)
        unknown = set(poll) - set(_POLL_KEYS)
        if unknown:
            raise self.fail(where, f"poll: unknown field(s) {sorted(unknown)}", line)
        id_field = poll.get("id_field")
        updated_field = poll.get("updated_field")
        if not isinstance(id_field, str) or not id_field:
            raise self.fail(where, "poll.id_field must be a non-empty string", line)
        if updated_field is not None and not isinstance(updated_field, str):
            raise self.fail(where, "poll.updated_field must be a string or null", line)
        if not op.is_list:
            raise self.fail(
                where, f"poll hints given, but {op.id} is not a list operation in the catalog", line
            )
        item_fields = list_item_fields(op)
        for hint in (id_field, updated_field):
            if hint is not None and item_fields and hint not in item_fields:
                raise self.fail(
                    where,
                    f"poll field {hint!r} is not a field of {op.id}'s items "
                    f"({', '.join(sorted(item_fields))})",
                    line,
                )
        return PollHints(id_field, updated_field)

    # ---- retry safety

    def _write_op(self, where: str, op_id: Any) -> Operation:
        if not isinstance(op_id, str):
            raise self.fail(where, f"{op_id!r} must be an operation id")
        try:
            op = self.catalog.get(op_id)
        except UnknownOperationError as exc:
            raise self.fail(where, str(exc)) from None
        if op.kind != "write":
            raise self.fail(where, f"{op.id} is a read, which is always safe to repeat")
        return op

    def _retry_safety(self, raw: Any) -> tuple[frozenset[str], dict[str, str]]:
        if raw is None:
            return frozenset(), {}
        if not isinstance(raw, dict) or set(raw) - {"idempotent_writes", "upsert_twins"}:
            raise self.fail(
                "retry_safety", "expected a mapping of idempotent_writes and upsert_twins"
            )
        writes = raw.get("idempotent_writes") or []
        twins = raw.get("upsert_twins") or {}
        if not isinstance(writes, list) or not isinstance(twins, dict):
            raise self.fail(
                "retry_safety", "idempotent_writes must be a list, upsert_twins a mapping"
            )
        idempotent = frozenset(
            self._write_op(f"retry_safety.idempotent_writes[{i}]", op_id).id
            for i, op_id in enumerate(writes)
        )
        pairs: dict[str, str] = {}
        for create, upsert in twins.items():
            where = f"retry_safety.upsert_twins.{create}"
            self._write_op(where, create)
            if upsert not in idempotent:
                raise self.fail(where, f"its twin {upsert!r} must be one of idempotent_writes")
            pairs[str(create)] = str(upsert)
        return idempotent, pairs

    # ---- webhook events

    def _event(self, i: int, raw: Any) -> WebhookEvent:
        section = "webhook_events"
        label = raw.get("type") if isinstance(raw, dict) else None
        where = self._where(section, i, label)
        if not isinstance(raw, dict):
            raise self.fail(where, "expected a mapping", self._line(section, i))
        for key in _EVENT_REQUIRED:
            if key not in raw:
                raise self.fail(where, f"missing field {key!r}", self._line(section, i))
        unknown = set(raw) - set(_EVENT_REQUIRED) - set(_EVENT_OPTIONAL)
        if unknown:
            raise self.fail(where, f"unknown field(s) {sorted(unknown)}", self._line(section, i))
        for key in ("type", "name", "app"):
            if not isinstance(raw[key], str) or not raw[key]:
                raise self.fail(
                    where, f"{key!r} must be a non-empty string", self._line(section, i, key)
                )
        for key in ("scope", "doc", "note"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise self.fail(
                    where, f"{key!r} must be a string or null", self._line(section, i, key)
                )
        for key in ("scope_documented", "type_documented"):
            if not isinstance(raw[key], bool):
                raise self.fail(
                    where, f"{key!r} must be true or false", self._line(section, i, key)
                )
        if not _NAME_RE.match(raw["name"]):
            raise self.fail(
                where, f"name {raw['name']!r} is not snake_case", self._line(section, i, "name")
            )
        if raw["app"] not in self.catalog.apps():
            raise self.fail(
                where, f"app {raw['app']!r} is not a catalog app", self._line(section, i, "app")
            )
        return WebhookEvent(
            type=raw["type"],
            name=raw["name"],
            app=raw["app"],
            scope=raw["scope"],
            scope_documented=raw["scope_documented"],
            type_documented=raw["type_documented"],
            doc=raw["doc"],
            note=raw.get("note"),
        )


__all__ = [
    "CURATED_PATH",
    "Curated",
    "CuratedError",
    "CuratedOperation",
    "PollHints",
    "UnknownCuratedError",
    "WebhookEvent",
    "body_fields",
    "list_item_fields",
    "load_curated",
    "polling_candidates",
    "resolve_defaults",
    "split_params_body",
]
