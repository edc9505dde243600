"""Deterministic, GHL-shaped identifiers: the same seed gives the same ids, tokens and data."""

from __future__ import annotations

import hashlib
import random
import string
import uuid

ALPHANUMERIC = string.ascii_letters + string.digits
HEX = "0123456789abcdef"


def derive_seed(*parts: object) -> int:
    """A stable 64-bit seed from any printable parts (independent of PYTHONHASHSEED)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def random_id(rng: random.Random) -> str:
    """A 20-character alphanumeric id, the shape GHL gives locations, contacts and most records."""
    return "".join(rng.choices(ALPHANUMERIC, k=20))


def random_hex_id(rng: random.Random) -> str:
    """A 24-hex Mongo-style id, the shape of app ids and some Social Planner records."""
    return "".join(rng.choices(HEX, k=24))


class IdFactory:
    """One seeded stream of ids; separate streams keep unrelated sequences independent."""

    def __init__(self, seed: int, stream: str) -> None:
        self._rng = random.Random(derive_seed(seed, stream))

    def new_id(self) -> str:
        return random_id(self._rng)

    def new_hex_id(self) -> str:
        return random_hex_id(self._rng)

    def new_secret(self, prefix: str = "") -> str:
        """A UUID-shaped secret (PITs look like ``pit-<uuid>``)."""
        return prefix + str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
