"""Operations served from real state, by catalog id; every other op is schema-faked.

A resource plugs in with one module here: a `ResourceSpec`, its handler functions, a
`HANDLERS` dict (op id -> handler) and, if new locations need demo data, `SEEDERS`.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Handler
from ghlbridge.sandbox.handlers import contacts, location_tags, oauth, social_planner
from ghlbridge.sandbox.state import Seeder

HANDLERS: dict[str, Handler] = {
    **contacts.HANDLERS,
    **location_tags.HANDLERS,
    **social_planner.HANDLERS,
    **oauth.HANDLERS,
}
SEEDERS: tuple[Seeder, ...] = (*social_planner.SEEDERS,)

__all__ = ["HANDLERS", "SEEDERS"]
