"""Operations served from real state, by catalog id; every other op is schema-faked.

A resource plugs in with one module here: a `ResourceSpec`, its handler functions, a
`HANDLERS` dict (op id -> handler) and, if new locations need demo data, `SEEDERS`.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Handler
from ghlbridge.sandbox.handlers import (
    appointment_notes,
    appointments,
    associations,
    blogs,
    businesses,
    calendar_notifications,
    calendar_resources,
    calendars,
    campaigns,
    contacts,
    conversations,
    custom_fields,
    custom_values,
    enrollments,
    free_slots,
    location_tags,
    locations,
    messages,
    notes,
    oauth,
    objects,
    opportunities,
    social_planner,
    social_statistics,
    tasks,
    users,
    workflows,
)
from ghlbridge.sandbox.state import Seeder

HANDLERS: dict[str, Handler] = {
    **contacts.HANDLERS,
    **notes.HANDLERS,
    **tasks.HANDLERS,
    **enrollments.HANDLERS,
    **custom_fields.HANDLERS,
    **custom_values.HANDLERS,
    **users.HANDLERS,
    **businesses.HANDLERS,
    **locations.HANDLERS,
    **location_tags.HANDLERS,
    **social_planner.HANDLERS,
    **social_statistics.HANDLERS,
    **conversations.HANDLERS,
    **messages.HANDLERS,
    **workflows.HANDLERS,
    **campaigns.HANDLERS,
    **blogs.HANDLERS,
    **opportunities.HANDLERS,
    **calendars.HANDLERS,
    **appointments.HANDLERS,
    **free_slots.HANDLERS,
    **appointment_notes.HANDLERS,
    **calendar_notifications.HANDLERS,
    **calendar_resources.HANDLERS,
    **objects.HANDLERS,
    **associations.HANDLERS,
    **oauth.HANDLERS,
}

# Order matters: the location profile first (its create is announced before its contents and
# calendars read its timezone), custom fields before custom objects, tags before posts.
SEEDERS: tuple[Seeder, ...] = (
    *locations.SEEDERS,
    *users.SEEDERS,
    *custom_fields.SEEDERS,
    *businesses.SEEDERS,
    *social_planner.SEEDERS,
    *workflows.SEEDERS,
    *campaigns.SEEDERS,
    *blogs.SEEDERS,
    *opportunities.SEEDERS,
    *calendars.SEEDERS,
    *objects.SEEDERS,
    *associations.SEEDERS,
)

__all__ = ["HANDLERS", "SEEDERS"]
