"""Dates as GHL's requests carry them (ISO 8601 strings or epoch milliseconds), as epoch ms."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from ghlbridge.sandbox.errors import unprocessable

DAY_MS = 24 * 3600 * 1000


def to_ms(value: Any) -> int | None:
    """Epoch ms from a number, a digit string or an ISO 8601 date(-time); None if unparsable."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return int(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        stamp = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=UTC)
    return int(stamp.timestamp() * 1000)


def require_ms(value: Any, name: str) -> int:
    """`to_ms`, or GHL's 422 naming the field when the value is not a date."""
    ms = to_ms(value)
    if ms is None:
        raise unprocessable([f"{name} must be a valid ISO 8601 date string"])
    return ms


def day_start(ms: int) -> int:
    """Midnight UTC of the day holding `ms`."""
    return ms - ms % DAY_MS


def day_label(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d")
