"""Workflows and campaigns are seeded per location and listed; contact enrolment checks
its workflowId/campaignId against these collections."""

from __future__ import annotations

import re
from typing import Any, cast

import pytest

from ghlbridge.client import ASGITransport, GHLClient
from ghlbridge.sandbox import Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import campaigns, workflows

_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.fixture
def setup(monkeypatch: pytest.MonkeyPatch) -> tuple[Sandbox, GHLClient]:
    seeders = (*core.SEEDERS, *workflows.SEEDERS, *campaigns.SEEDERS)
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys(seeders)))
    handlers = {**core.HANDLERS, **workflows.HANDLERS, **campaigns.HANDLERS}
    sb = Sandbox(SandboxSettings(seed=7), handlers=handlers)
    client = GHLClient(
        sb.location_token.value,
        transport=ASGITransport(cast(Any, create_app(sandbox=sb))),
        base_url="http://sandbox",
        location_id=sb.location_id,
    )
    return sb, client


async def test_workflows_list_the_seeded_and_added_workflows(
    setup: tuple[Sandbox, GHLClient],
) -> None:
    sb, client = setup
    listed = (await client.call("workflows.get_workflow"))["workflows"]
    assert [(w["name"], w["status"]) for w in listed] == [
        ("New Lead Nurture", "published"),
        ("Appointment Reminder", "published"),
        ("Re-engagement Campaign", "draft"),
    ]
    assert all(_UUID.match(w["id"]) and w["locationId"] == sb.location_id for w in listed)
    added = workflows.add_workflow(sb.location(), "Birthday")
    assert (await client.call("workflows.get_workflow"))["workflows"][-1]["id"] == added["id"]
    other, _ = sb.add_location()
    assert {w["id"] for w in other.collection(workflows.WORKFLOWS)}.isdisjoint(
        w["id"] for w in listed
    )


async def test_campaigns_list_and_filter_by_status(setup: tuple[Sandbox, GHLClient]) -> None:
    _, client = setup
    listed = (await client.call("campaigns.get_campaigns"))["campaigns"]
    assert [(c["name"], c["status"]) for c in listed] == [
        ("Welcome Sequence", "published"),
        ("Holiday Promo", "draft"),
    ]
    drafts = (await client.call("campaigns.get_campaigns", {"status": "draft"}))["campaigns"]
    assert [c["name"] for c in drafts] == ["Holiday Promo"]
