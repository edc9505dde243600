"""What the demo partner app received, and the answers it gave to each Idempotency-Key.

Thread-safe: the app may serve on another thread's loop (``serve_partner``) while a test or
the demo reads what arrived.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

# What each kind of delivery is, for GET /received?kind=... (and the docs).
KINDS = {
    "tag_details": "POST /tag-details: a Social Planner tag's details",
    "location_tags": "POST /locations/{locationId}/tags: a location's Social Planner tags",
    "statistics": "POST /statistics: a location's social statistics report",
    "post_stats": "POST /post-stats: statistics collected for a published post",
    "tag_details_request": "POST /tag-details-request: the partner asked ghlbridge for details",
    "tag_details_response": "POST /tag-details-requests/{id}/response: ghlbridge's answer",
    "webhook": "POST /webhooks: a signed outbound webhook delivery",
}


@dataclass(frozen=True)
class Received:
    """One delivery that was processed (a replay of an Idempotency-Key is not one)."""

    id: int
    kind: str
    at: str
    body: Any
    location_id: str | None = None
    idempotency_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "at": self.at,
            "locationId": self.location_id,
            "idempotencyKey": self.idempotency_key,
            "body": self.body,
        }


@dataclass
class Answer:
    """The answer stored for an Idempotency-Key, and what it answered (path + body hash)."""

    fingerprint: str
    status: int = 0
    body: Any = None

    @property
    def pending(self) -> bool:
        return self.status == 0


@dataclass
class TagDetailsRequest:
    id: str
    location_id: str
    tag_ids: list[str]
    sent_status: int | None = None
    error: str | None = None
    response: Any = None

    @property
    def status(self) -> str:
        if self.response is not None:
            return "answered"
        return "failed" if self.error else "pending"

    def to_dict(self) -> dict[str, Any]:
        return {
            "requestId": self.id,
            "locationId": self.location_id,
            "tagIds": self.tag_ids,
            "status": self.status,
            "hookStatus": self.sent_status,
            "error": self.error,
            "response": self.response,
        }


@dataclass
class PartnerState:
    """Everything the partner holds; `received` is what a test or the demo checks."""

    _items: list[Received] = field(default_factory=list)
    _answers: dict[str, Answer] = field(default_factory=dict)
    requests: dict[str, TagDetailsRequest] = field(default_factory=dict)
    replays: int = 0
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add(
        self,
        kind: str,
        body: Any,
        *,
        location_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Received:
        with self._lock:
            item = Received(
                next(self._ids),
                kind,
                datetime.now(UTC).isoformat(timespec="milliseconds"),
                body,
                location_id,
                idempotency_key,
            )
            self._items.append(item)
            return item

    def received(self, kind: str | None = None, location_id: str | None = None) -> list[Received]:
        with self._lock:
            return [
                i
                for i in self._items
                if (kind is None or i.kind == kind)
                and (location_id is None or i.location_id == location_id)
            ]

    # -- idempotency --------------------------------------------------------------------

    def begin(self, key: str, path: str, body: bytes) -> Answer | None:
        """Claim `key` for this request; returns the earlier answer if it was claimed."""
        fingerprint = hashlib.sha256(path.encode() + b"\n" + body).hexdigest()
        with self._lock:
            earlier = self._answers.get(key)
            if earlier is not None:
                if not earlier.pending and earlier.fingerprint == fingerprint:
                    self.replays += 1
                return earlier
            self._answers[key] = Answer(fingerprint)
            return None

    def finish(self, key: str, status: int, body: Any) -> None:
        """Store the answer (a 5xx answer frees the key: the sender may try again)."""
        with self._lock:
            if status >= 500:
                self._answers.pop(key, None)
                return
            answer = self._answers.setdefault(key, Answer(""))
            answer.status, answer.body = status, body

    @staticmethod
    def fingerprint(path: str, body: bytes) -> str:
        return hashlib.sha256(path.encode() + b"\n" + body).hexdigest()


__all__ = ["KINDS", "Answer", "PartnerState", "Received", "TagDetailsRequest"]
