"""Maps a request's method and path to its catalog operation, built once from the catalog.

Templates live in a segment trie. A literal segment beats a `{param}` at the same position
(``/contacts/search`` is not ``/contacts/{contactId}``), with backtracking when the literal
branch has no operation for the method. Trailing slashes are ignored, as GHL ignores them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from urllib.parse import unquote

from ghlbridge.catalog import Catalog, Operation


@dataclass(frozen=True, slots=True)
class Match:
    op: Operation
    path_params: dict[str, str]


@dataclass(slots=True)
class _Node:
    literals: dict[str, _Node] = field(default_factory=dict)
    param: _Node | None = None
    ops: dict[str, tuple[Operation, tuple[str, ...]]] = field(default_factory=dict)


def split_path(path: str) -> list[str]:
    """Segments of a URL path (still percent-encoded), without leading or trailing slashes."""
    stripped = path.strip("/")
    return stripped.split("/") if stripped else []


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


class RouteTable:
    """Every operation's (method, path template), answering `match` in O(path length)."""

    def __init__(self, operations: Iterable[Operation]) -> None:
        self._root = _Node()
        self._count = 0
        for op in operations:
            self._add(op)

    def __len__(self) -> int:
        return self._count

    def _add(self, op: Operation) -> None:
        node = self._root
        names: list[str] = []
        for segment in split_path(op.path):
            if _is_param(segment):
                names.append(segment[1:-1])
                if node.param is None:
                    node.param = _Node()
                node = node.param
            else:
                node = node.literals.setdefault(segment, _Node())
        method = op.method.upper()
        if method in node.ops:
            raise ValueError(f"two operations serve {method} {op.path}: {node.ops[method][0].id}")
        node.ops[method] = (op, tuple(names))
        self._count += 1

    def match(self, method: str, raw_path: str) -> Match | None:
        """The operation serving `method` at `raw_path` (percent-encoded), or None."""
        segments = [unquote(s) for s in split_path(raw_path)]
        found = _walk(self._root, segments, 0, [], method.upper())
        if found is None:
            return None
        op, names, values = found
        return Match(op, dict(zip(names, values, strict=True)))


def _walk(
    node: _Node, segments: list[str], i: int, values: list[str], method: str
) -> tuple[Operation, tuple[str, ...], list[str]] | None:
    if i == len(segments):
        entry = node.ops.get(method)
        return (entry[0], entry[1], values) if entry else None
    segment = segments[i]
    literal = node.literals.get(segment)
    if literal is not None:
        found = _walk(literal, segments, i + 1, values, method)
        if found is not None:
            return found
    if node.param is not None and segment:
        return _walk(node.param, segments, i + 1, [*values, segment], method)
    return None


@lru_cache(maxsize=4)
def route_table(catalog: Catalog) -> RouteTable:
    """The route table of a catalog, built once per catalog object."""
    return RouteTable(catalog)
