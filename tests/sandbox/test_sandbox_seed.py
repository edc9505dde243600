"""Seed data: a realistic agency, the same for the same seed, reachable through the API."""

from __future__ import annotations

import re

from ghlbridge.sandbox import Sandbox, SandboxSettings
from ghlbridge.sandbox.handlers.contacts import CONTACTS
from ghlbridge.sandbox.handlers.location_tags import TAGS
from ghlbridge.sandbox.handlers.social_planner import SOCIAL_TAGS
from tests.sandbox.harness import Harness


def _seeded(seed: int = 5, contacts: int = 600, locations: int = 4) -> Sandbox:
    return Sandbox(
        SandboxSettings(seed=seed, seed_data=True, seed_contacts=contacts, seed_locations=locations)
    )


def test_seed_builds_n_contacts_across_locations() -> None:
    sb = _seeded()
    report = sb.seed_report
    assert report is not None and report.contacts == 600
    assert [loc.id for loc in report.locations] == list(sb.world.locations)
    assert report.locations[0].id == sb.location_id
    counts = [len(sb.location(loc.id).collection(CONTACTS)) for loc in report.locations]
    assert counts == [loc.contacts for loc in report.locations]
    assert sum(counts) == 600 and all(c > 0 for c in counts) and len(set(counts)) > 1
    everyone = [c for loc in report.locations for c in sb.location(loc.id).collection(CONTACTS)]
    assert len({c["email"] for c in everyone}) == 600
    assert len({c["phone"] for c in everyone}) == 600
    assert all(re.fullmatch(r"\+1\d{10}", c["phone"]) for c in everyone)
    assert all(c["name"] == f"{c['firstName']} {c['lastName']}" for c in everyone)
    assert any(c["tags"] for c in everyone) and any(c["dnd"] for c in everyone)
    for loc in report.locations:
        state = sb.location(loc.id)
        tag_names = {t["name"] for t in state.collection(TAGS)}
        assert {t for c in state.collection(CONTACTS) for t in c["tags"]} <= tag_names
        assert len(state.collection(SOCIAL_TAGS)) > 0  # the resource seeders ran too
    assert sb.webhooks.events() == []  # seeding raises no webhooks


def test_the_same_seed_builds_the_same_agency() -> None:
    def snapshot(sb: Sandbox) -> list[tuple[str, str, str, tuple[str, ...]]]:
        return [
            (loc.id, c["id"], c["email"], tuple(c["tags"]))
            for loc in sb.world.locations.values()
            for c in loc.collection(CONTACTS)
        ]

    assert snapshot(_seeded(7, 200, 3)) == snapshot(_seeded(7, 200, 3))
    assert snapshot(_seeded(7, 200, 3)) != snapshot(_seeded(8, 200, 3))


def test_default_settings_seed_nothing_and_the_default_agency_has_thousands() -> None:
    assert Sandbox(SandboxSettings()).seed_report is None
    report = Sandbox(SandboxSettings(seed_data=True)).seed_report
    assert report is not None and report.contacts == 2000 and len(report.locations) == 3


async def test_each_seeded_location_answers_its_contacts_with_its_own_token() -> None:
    h = Harness(SandboxSettings(seed=2, seed_data=True, seed_contacts=90, seed_locations=3))
    assert h.sb.seed_report is not None
    for loc in h.sb.seed_report.locations:
        answer = await h.call(
            "contacts.get_contacts", {"locationId": loc.id, "limit": 5}, token=loc.token
        )
        assert answer.status == 200, answer.body
        assert answer.json()["meta"]["total"] == loc.contacts
