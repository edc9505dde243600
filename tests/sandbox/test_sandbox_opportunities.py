"""Opportunities and pipelines are real state: a seeded default pipeline, stage/status/value
updates told apart in the recorded changes, upserts that de-duplicate by pipeline and contact,
and both searches paging every match exactly once with GHL's meta."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox import core as sandbox_core
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS, opportunities
from ghlbridge.sandbox.handlers.opportunities import DEFAULT_STAGES, add_pipeline
from tests.sandbox.harness import BASE, Harness

_BOOKKEEPING = {"updatedAt"}


class _Harness(Harness):
    """The shared harness over a given sandbox (one with this module's handlers)."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.app = create_app(sandbox=sandbox)
        self.sb = sandbox
        self.transport = ASGITransport(cast(Any, self.app))
        self.catalog = load_catalog()
        self.client = GHLClient(
            self.token, transport=self.transport, base_url=BASE, location_id=sandbox.location_id
        )


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> Callable[..., _Harness]:
    """Sandboxes serving the opportunity handlers and seeders (registered or not yet)."""
    seeders = (*SEEDERS, *(s for s in opportunities.SEEDERS if s not in SEEDERS))
    monkeypatch.setattr(sandbox_core, "SEEDERS", seeders)

    def make(**settings: Any) -> _Harness:
        settings.setdefault("seed", 5)
        settings.setdefault("rate_limit", RateLimit(100_000, 10.0))
        handlers = {**HANDLERS, **opportunities.HANDLERS}
        return _Harness(Sandbox(SandboxSettings(**settings), handlers=handlers))

    return make


@pytest.fixture
def h(build: Callable[..., _Harness]) -> _Harness:
    return build(demo_records=0)


async def _contact(h: _Harness, name: str = "Ada") -> str:
    body = await h.client.call("contacts.create_contact", body={"firstName": name})
    return str(body["contact"]["id"])


async def _pipeline(h: _Harness) -> dict[str, Any]:
    body = await h.client.call("opportunities.get_pipelines")
    return cast(dict[str, Any], body["pipelines"][0])


async def _create(h: _Harness, **fields: Any) -> dict[str, Any]:
    if "pipelineId" not in fields:
        fields["pipelineId"] = (await _pipeline(h))["id"]
    if "contactId" not in fields:
        fields["contactId"] = await _contact(h)
    body = {"name": "Deal", "status": "open", **fields}
    answer = await h.client.call("opportunities.create_opportunity", body=body)
    return cast(dict[str, Any], answer["opportunity"])


def _changed(change: Change) -> set[str]:
    before, after = change.previous or {}, change.record
    keys = (set(before) | set(after)) - _BOOKKEEPING
    return {k for k in keys if before.get(k) != after.get(k)}


async def test_each_location_is_seeded_with_a_default_pipeline_and_demo_opportunities(
    build: Callable[..., _Harness],
) -> None:
    h = build(demo_records=3)
    pipelines = (await h.client.call("opportunities.get_pipelines"))["pipelines"]
    assert len(pipelines) == 1
    pipeline = pipelines[0]
    assert pipeline["name"] == "Sales Pipeline" and pipeline["locationId"] == h.sb.location_id
    assert [s["name"] for s in pipeline["stages"]] == list(DEFAULT_STAGES)
    assert [s["position"] for s in pipeline["stages"]] == [0, 1, 2, 3, 4]
    assert all(len(s["id"]) == 36 and s["id"].count("-") == 4 for s in pipeline["stages"])
    found = await h.client.call("opportunities.search_opportunity", {"pipeline_id": pipeline["id"]})
    assert found["meta"]["total"] == 3
    assert {o["pipelineStageId"] for o in found["opportunities"]} <= {
        s["id"] for s in pipeline["stages"]
    }
    again = build(demo_records=3)
    assert (await _pipeline(again))["id"] == pipeline["id"]  # same seed, same data


async def test_create_defaults_to_the_first_stage_and_embeds_the_contact(h: _Harness) -> None:
    pipeline = await _pipeline(h)
    contact_id = await _contact(h, "Grace")
    created = await _create(h, contactId=contact_id, monetaryValue=220, assignedTo="user1")
    assert created["pipelineStageId"] == pipeline["stages"][0]["id"]
    assert created["status"] == "open" and created["monetaryValue"] == 220
    assert created["contact"]["id"] == contact_id and created["contact"]["name"] == "Grace"
    assert created["createdAt"].endswith("Z") and created["lastStatusChangeAt"]
    got = await h.client.call("opportunities.get_opportunity", {"id": created["id"]})
    assert got["opportunity"] == created
    fields = [{"id": "f1", "field_value": "a"}, {"key": "f2", "field_value": "x"}]
    await h.client.call(
        "opportunities.update_opportunity", {"id": created["id"]}, {"customFields": fields}
    )
    merged = await h.client.call(
        "opportunities.update_opportunity",
        {"id": created["id"]},
        {"customFields": [{"id": "f1", "field_value": "b"}]},
    )
    assert merged["opportunity"]["customFields"] == [
        {"id": "f1", "fieldValue": "b"},
        {"id": "f2", "fieldValue": "x"},
    ]


async def test_stage_status_and_value_updates_are_separate_changes_with_previous_state(
    h: _Harness,
) -> None:
    changes: list[Change] = []
    h.sb.world.subscribe(changes.append)
    pipeline = await _pipeline(h)
    opp = await _create(h, monetaryValue=100)
    oid = opp["id"]
    stage2 = pipeline["stages"][1]["id"]
    await h.client.call(
        "opportunities.update_opportunity", {"id": oid}, {"pipelineStageId": stage2}
    )
    await h.client.call("opportunities.update_opportunity_status", {"id": oid}, {"status": "won"})
    await h.client.call("opportunities.update_opportunity", {"id": oid}, {"monetaryValue": 450.5})
    await h.client.call("opportunities.update_opportunity", {"id": oid}, {"assignedTo": "u2"})
    updates = [c for c in changes if c.resource == "opportunities" and c.action == "update"]
    assert [_changed(c) for c in updates] == [
        {"pipelineStageId", "lastStageChangeAt"},
        {"status", "lastStatusChangeAt"},
        {"monetaryValue"},
        {"assignedTo"},
    ]
    stage_change, status_change = updates[0], updates[1]
    assert stage_change.previous is not None
    assert stage_change.previous["pipelineStageId"] == pipeline["stages"][0]["id"]
    assert stage_change.record["pipelineStageId"] == stage2
    assert status_change.previous is not None and status_change.previous["status"] == "open"
    assert status_change.record["status"] == "won"
    final = (await h.client.call("opportunities.get_opportunity", {"id": oid}))["opportunity"]
    assert (final["status"], final["monetaryValue"], final["assignedTo"]) == ("won", 450.5, "u2")


async def test_moving_to_another_pipeline_lands_on_its_first_stage(h: _Harness) -> None:
    other = add_pipeline(h.sb.location(), "Renewals", ["Due", "Renewed"])
    opp = await _create(h)
    moved = await h.client.call(
        "opportunities.update_opportunity", {"id": opp["id"]}, {"pipelineId": other["id"]}
    )
    assert moved["opportunity"]["pipelineStageId"] == other["stages"][0]["id"]
    with pytest.raises(BadRequestError) as err:
        await h.client.call(
            "opportunities.update_opportunity",
            {"id": opp["id"]},
            {"pipelineStageId": (await _pipeline(h))["stages"][2]["id"]},
        )
    assert err.value.status == 400 and "stage" in err.value.message.lower()


@pytest.mark.parametrize(
    ("fields", "status", "message"),
    [
        ({"pipelineId": "nopenopenopenopenope"}, 400, "Pipeline not found"),
        ({"contactId": "nopenopenopenopenope"}, 400, "Contact not found"),
        ({"status": "all"}, 422, "status must be one of the following values"),
        ({"pipelineStageId": "not-a-stage"}, 400, "Pipeline stage not found"),
    ],
)
async def test_create_refuses_what_ghl_refuses(
    h: _Harness, fields: dict[str, Any], status: int, message: str
) -> None:
    with pytest.raises(BadRequestError) as err:
        await _create(h, **fields)
    assert err.value.status == status and message in err.value.message


async def test_a_contact_holds_one_opportunity_per_pipeline(h: _Harness) -> None:
    contact_id = await _contact(h)
    await _create(h, contactId=contact_id)
    with pytest.raises(BadRequestError) as err:
        await _create(h, contactId=contact_id, name="Again")
    assert err.value.message == "Can not create duplicate opportunity for the contact."
    other = add_pipeline(h.sb.location(), "Upsell", ["Open"])
    assert (await _create(h, contactId=contact_id, pipelineId=other["id"]))["name"] == "Deal"


async def test_upsert_matches_by_pipeline_and_contact_then_by_id(h: _Harness) -> None:
    pipeline = await _pipeline(h)
    contact_id = await _contact(h)
    base = {
        "pipelineId": pipeline["id"],
        "contactId": contact_id,
        "followers": ["u1"],
        "followersActionType": "add",
        "isRemoveAllFollowers": False,
    }
    first = await h.client.call(
        "opportunities.upsert_opportunity", body={**base, "name": "Upserted"}
    )
    assert first["new"] is True and first["opportunity"]["followers"] == ["u1"]
    second = await h.client.call(
        "opportunities.upsert_opportunity",
        body={**base, "followers": ["u2"], "status": "lost", "lostReasonId": "r1"},
    )
    assert second["new"] is False
    record = second["opportunity"]
    assert record["id"] == first["opportunity"]["id"] and record["name"] == "Upserted"
    assert record["status"] == "lost" and record["lostReasonId"] == "r1"
    assert record["followers"] == ["u1", "u2"]
    by_id = await h.client.call(
        "opportunities.upsert_opportunity",
        body={
            **base,
            "id": record["id"],
            "followers": ["u1"],
            "followersActionType": "remove",
        },
    )
    assert by_id["new"] is False and by_id["opportunity"]["followers"] == ["u2"]
    listed = await h.client.call("opportunities.search_opportunity", {"contact_id": contact_id})
    assert listed["meta"]["total"] == 1


async def test_followers_are_added_once_and_removed(h: _Harness) -> None:
    oid = (await _create(h))["id"]
    added = await h.client.call(
        "opportunities.add_followers_opportunity", {"id": oid}, {"followers": ["a", "b"]}
    )
    assert added == {"followers": ["a", "b"], "followersAdded": ["a", "b"]}
    again = await h.client.call(
        "opportunities.add_followers_opportunity", {"id": oid}, {"followers": ["b", "c"]}
    )
    assert again == {"followers": ["a", "b", "c"], "followersAdded": ["c"]}
    removed = await h.client.call(
        "opportunities.remove_followers_opportunity", {"id": oid}, {"followers": ["a"]}
    )
    assert removed == {"followers": ["b", "c"], "followersRemoved": ["a"]}
    cleared = await h.client.call(
        "opportunities.remove_followers_opportunity",
        {"id": oid, "isRemoveAllFollowers": True},
        {"followers": []},
    )
    assert cleared == {"followers": [], "followersRemoved": ["b", "c"]}


async def test_search_pages_by_start_after_returning_each_match_once_with_ghl_meta(
    h: _Harness,
) -> None:
    ids = [(await _create(h, name=f"Deal {i}"))["id"] for i in range(23)]
    seen: list[str] = []
    metas: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 10, "getNotes": True}
    while True:
        page = await h.client.call("opportunities.search_opportunity", params)
        seen.extend(o["id"] for o in page["opportunities"])
        metas.append(page["meta"])
        if page["meta"]["nextPageUrl"] is None:
            break
        params = {
            **params,
            "startAfter": page["meta"]["startAfter"],
            "startAfterId": page["meta"]["startAfterId"],
        }
    assert seen == ids
    assert [m["total"] for m in metas] == [23, 23, 23]
    assert [(m["currentPage"], m["nextPage"], m["prevPage"]) for m in metas] == [
        (1, 2, None),
        (2, 3, 1),
        (3, None, 2),
    ]
    assert metas[0]["startAfterId"] == ids[9] and isinstance(metas[0]["startAfter"], int)
    assert metas[2]["startAfterId"] is None and metas[2]["startAfter"] is None
    next_url = metas[0]["nextPageUrl"]
    assert next_url.startswith(f"{BASE}/opportunities/search?") and "getNotes=true" in next_url
    followed = await h.request("GET", next_url.removeprefix(BASE))
    assert [o["id"] for o in followed.json()["opportunities"]] == ids[10:20]
    streamed = [o["id"] async for o in h.client.paginate("opportunities.search_opportunity")]
    assert streamed == ids


async def test_search_filters_by_status_stage_owner_contact_and_text(h: _Harness) -> None:
    pipeline = await _pipeline(h)
    stage3 = pipeline["stages"][3]["id"]
    grace = await _contact(h, "Grace Hopper")
    won = await _create(h, name="Navy", status="won", contactId=grace)
    staged = await _create(h, name="Staged", pipelineStageId=stage3, assignedTo="u7")
    await _create(h, name="Plain")

    async def ids(**params: Any) -> list[str]:
        page = await h.client.call("opportunities.search_opportunity", params)
        return [o["id"] for o in page["opportunities"]]

    assert await ids(status="won") == [won["id"]]
    assert len(await ids(status="all")) == 3
    assert await ids(pipeline_stage_id=stage3) == [staged["id"]]
    assert await ids(assigned_to="u7") == [staged["id"]]
    assert await ids(contact_id=grace) == [won["id"]]
    assert await ids(q="hopper") == [won["id"]]
    assert await ids(q="stag") == [staged["id"]]


async def test_post_search_walks_search_after_and_pages(h: _Harness) -> None:
    ids = [(await _create(h, name=f"Deal {i}"))["id"] for i in range(5)]
    await _create(h, name="Other")
    details = {
        "notes": False,
        "tasks": False,
        "calendarEvents": False,
        "unReadConversations": False,
    }
    body: dict[str, Any] = {
        "query": "deal",
        "limit": 2,
        "page": 1,
        "searchAfter": [],
        "additionalDetails": details,
    }
    seen: list[str] = []
    while True:
        page = await h.client.call("opportunities.search_opportunities_advanced", body=body)
        assert page["total"] == 5
        if not page["opportunities"]:
            break
        seen.extend(o["id"] for o in page["opportunities"])
        body = {**body, "searchAfter": page["opportunities"][-1]["sort"]}
    assert seen == ids
    second = await h.client.call(
        "opportunities.search_opportunities_advanced", body={**body, "searchAfter": [], "page": 2}
    )
    assert [o["id"] for o in second["opportunities"]] == ids[2:4]
    streamed = [
        o["id"]
        async for o in h.client.paginate(
            "opportunities.search_opportunities_advanced", body={**body, "searchAfter": []}
        )
    ]
    assert streamed == ids


async def test_delete_then_get_answers_not_found(h: _Harness) -> None:
    oid = (await _create(h))["id"]
    deleted = await h.client.call("opportunities.delete_opportunity", {"id": oid})
    assert deleted == {"succeded": True}
    gone = await h.call("opportunities.get_opportunity", {"id": oid})
    assert gone.status == 400
    assert gone.json() == {
        "statusCode": 400,
        "message": "Opportunity not found",
        "error": "Bad Request",
    }


async def test_another_locations_token_cannot_reach_an_opportunity(h: _Harness) -> None:
    oid = (await _create(h))["id"]
    _, pit = h.sb.add_location(name="Other")
    answer = await h.call("opportunities.get_opportunity", {"id": oid}, token=pit.value)
    assert answer.status == 403
