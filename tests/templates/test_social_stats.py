"""social-stats-to-partner and posts-stats-to-partner: social statistics reach the partner
on a schedule, on demand, and for each post of a published batch."""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.handlers.social_planner import SOCIAL_ACCOUNTS
from tests.templates.conftest import World, baselines_taken, eventually, polled


async def publish(world: World, account_index: int, text: str) -> dict[str, Any]:
    """Publish a post through the API, as a user of the location would."""
    accounts = list(world.sb.location().collection(SOCIAL_ACCOUNTS))
    async with world.client() as ghl:
        answer = await ghl.call(
            "social_media_posting.create_post",
            body={
                "accountIds": [accounts[account_index]["id"]],
                "summary": text,
                "type": "post",
                "userId": "user-1",
            },
        )
    post: dict[str, Any] = answer["results"]["post"]
    return post


async def test_statistics_reports_arrive_on_schedule_and_on_demand_and_show_new_posts(
    world: World,
) -> None:
    world.install("social-stats-to-partner", every="1h")  # the engine runs it every 0.2 s
    engine = world.engine()
    await engine.start()
    try:
        reports = world.partner.state.received
        await eventually(lambda: reports("statistics"), "the first scheduled report")
        first = reports("statistics")[0].body
        await publish(world, 0, "New arrivals are in")
        await publish(world, 1, "Weekend offer")
        on_demand = await engine.start_manual("social-stats-to-partner", {})
        [run] = await engine.run_until_settled(on_demand.run_ids)
    finally:
        await engine.stop()
    assert run.status == "succeeded", run.error
    [push] = [a for a in engine.store.attempts(run.id) if a.step_id == "push"]
    [latest] = [i.body for i in reports("statistics") if i.id == push.output["body"]["id"]]
    profiles = sorted(a["profileId"] for a in world.sb.location().collection(SOCIAL_ACCOUNTS))
    for report in (first, latest):
        assert report["locationId"] == world.sb.location_id
        assert sorted(report["accounts"]) == profiles
        assert len(report["dateRange"]["days"]) == 7
        assert report["dateRange"]["to"] == report["dateRange"]["days"][-1]
        assert set(report["metrics"]) == {"posts", "likes", "comments", "impressions", "followers"}
        assert report["timestamp"]
    assert first["metrics"]["posts"] == 0
    assert latest["metrics"]["posts"] == 2 and latest["metrics"]["impressions"] > 0
    assert latest["breakdowns"]["posts"]["platforms"]["facebook"]["value"] == 1
    scheduled = [r for r in reports("statistics") if r.body is not latest]
    assert scheduled and all(r.idempotency_key for r in reports("statistics"))


async def test_each_post_of_a_published_batch_has_its_statistics_sent_once(
    world: World,
) -> None:
    await publish(world, 0, "Published before the flow: not news")
    world.install("posts-stats-to-partner", every="10s")
    engine = world.engine()
    await engine.start()
    try:
        await baselines_taken(engine)  # what exists now is recorded, not sent
        batch = [await publish(world, i % 3, f"Batch post {i}") for i in range(3)]
        await eventually(
            lambda: len(world.partner.received("post_stats")) >= 3, "three post statistics"
        )
        await polled(engine, 2)
        await engine.wait_idle()
    finally:
        await engine.stop()
    sent = {b["postId"]: b for b in world.partner.received("post_stats")}
    assert set(sent) == {p["_id"] for p in batch}  # each post once, nothing else
    accounts = {a["id"]: a for a in world.sb.location().collection(SOCIAL_ACCOUNTS)}
    for post in batch:
        body = sent[post["_id"]]
        assert body["locationId"] == world.sb.location_id
        assert body["platformPostId"] == post["postId"]
        assert body["platform"] == accounts[post["accountIds"][0]]["platform"]
        assert body["publishedAt"] == post["publishedAt"]
        # The statistics of the post's own account: its post (and the earlier one on it).
        assert body["metrics"]["posts"] >= 1 and body["metrics"]["impressions"] > 0
        assert set(body["platforms"]) == {body["platform"]}
