"""Loads the committed catalog file and answers look-ups by id, app and text."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path

from ghlbridge.catalog.model import Operation

CATALOG_PATH = Path(__file__).parent / "data" / "catalog.json"


class UnknownOperationError(LookupError):
    """An operation id that the catalog does not hold; carries close matches for the message."""

    def __init__(self, op_id: str, suggestions: list[str]) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(f"unknown operation {op_id!r}{hint}")
        self.op_id = op_id
        self.suggestions = suggestions


class Catalog:
    """An immutable, indexed set of operations."""

    def __init__(self, operations: list[Operation]) -> None:
        self._ops = {op.id: op for op in operations}
        if len(self._ops) != len(operations):
            raise ValueError("catalog holds duplicate operation ids")

    def __len__(self) -> int:
        return len(self._ops)

    def __iter__(self) -> Iterator[Operation]:
        return iter(self._ops.values())

    def __contains__(self, op_id: object) -> bool:
        return op_id in self._ops

    def get(self, op_id: str) -> Operation:
        try:
            return self._ops[op_id]
        except KeyError:
            close = difflib.get_close_matches(op_id, list(self._ops), n=3, cutoff=0.6)
            raise UnknownOperationError(op_id, close) from None

    def apps(self) -> list[str]:
        return sorted({op.app for op in self._ops.values()})

    def by_app(self, app: str) -> list[Operation]:
        return [op for op in self._ops.values() if op.app == app]

    def search(self, text: str) -> list[Operation]:
        """Operations whose id, summary, path or scopes contain every word of `text`."""
        words = text.lower().split()
        hits = []
        for op in self._ops.values():
            hay = " ".join([op.id, op.summary, op.path, op.method, *op.scopes]).lower()
            if all(w in hay for w in words):
                hits.append(op)
        return hits

    @classmethod
    def from_file(cls, path: Path) -> Catalog:
        data = json.loads(path.read_text(encoding="utf-8"))
        return cls([Operation.from_dict(d) for d in data["operations"]])


@lru_cache(maxsize=1)
def load_catalog() -> Catalog:
    """The packaged catalog, parsed once per process."""
    return Catalog.from_file(CATALOG_PATH)
