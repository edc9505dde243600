"""social-tag-details-to-partner: a tag added or renamed in a location's Social Planner
reaches the partner app as its details, once per change."""

from __future__ import annotations

from ghlbridge.sandbox.handlers.social_planner import (
    SOCIAL_TAGS,
    add_social_tag,
    rename_social_tag,
)
from tests.templates.conftest import World, baselines_taken, eventually, polled


async def test_an_added_and_a_renamed_tag_arrive_at_the_partner_with_their_details(
    world: World,
) -> None:
    loc = world.sb.location()
    old = add_social_tag(loc, "Evergreen")["_id"]  # exists before the flow: not news
    world.install("social-tag-details-to-partner", every="10s")
    engine = world.engine()
    await engine.start()
    try:
        await baselines_taken(engine)  # what exists now is recorded, not sent
        new = add_social_tag(loc, "Summer Sale")
        renamed = rename_social_tag(loc, old, "Evergreen 2025")
        arrived = await eventually(
            lambda: len(world.partner.received("tag_details")) >= 2 and world.partner.received(),
            "two tag details at the partner",
        )
        await polled(engine, 2)  # later polls find nothing new
        await engine.wait_idle()
    finally:
        await engine.stop()
    items = world.partner.state.received("tag_details")
    assert len(items) == 2 == len(arrived)
    by_tag = {i.body["tagId"]: i.body for i in items}
    assert set(by_tag) == {new["_id"], old}
    sent = by_tag[new["_id"]]
    assert sent["locationId"] == world.sb.location_id
    assert sent["details"]["_id"] == new["_id"] and sent["details"]["tag"] == "Summer Sale"
    assert sent["timestamp"] == new["updatedAt"]
    assert by_tag[old]["details"]["tag"] == "Evergreen 2025"
    assert by_tag[old]["timestamp"] == renamed["updatedAt"]
    assert all(i.idempotency_key for i in items)  # every delivery carries its key
    assert world.partner.state.replays == 0
    assert loc.collection(SOCIAL_TAGS).get(old) is not None
