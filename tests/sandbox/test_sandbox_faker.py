"""Answers of operations without state: shaped by the op's schema, stable for a seed, and
faked lists that page in the op's own style to their end."""

from __future__ import annotations

from typing import Any

import pytest

from ghlbridge.sandbox import SandboxSettings
from ghlbridge.sandbox.faker import SchemaFaker
from tests.sandbox.harness import Harness


async def test_same_seed_and_request_give_the_same_answer(make_harness: Any) -> None:
    a: Harness = make_harness(SandboxSettings(seed=5))
    b: Harness = make_harness(SandboxSettings(seed=5))
    c: Harness = make_harness(SandboxSettings(seed=6, location_id=a.sb.location_id))
    params = {"id": "sched123"}
    one = await a.call("calendars.get_schedule_by_id", params)
    assert one.status == 200
    assert one.body == (await a.call("calendars.get_schedule_by_id", params)).body
    assert one.body == (await b.call("calendars.get_schedule_by_id", params)).body
    assert one.body != (await c.call("calendars.get_schedule_by_id", params, token=c.token)).body


async def test_faked_answer_echoes_the_requested_id(harness: Harness) -> None:
    response = await harness.call("calendars.get_schedule_by_id", {"id": "sched-42"})
    assert response.json()["schedule"]["id"] == "sched-42"


def test_faked_values_honour_enums_examples_and_bounds() -> None:
    faker = SchemaFaker(1)
    schema = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["open", "won", "lost"]},
            "label": {"type": "string", "example": "Hello"},
            "flag": {"type": "boolean", "example": "Bearer"},
            "size": {"type": "number", "minimum": 10, "maximum": 12},
            "createdAt": {"type": "string", "format": "date-time"},
        },
    }
    for i in range(20):
        value = faker.value(schema, faker.rng(i))
        assert value["status"] in ("open", "won", "lost")
        assert value["label"] == "Hello"
        assert isinstance(value["flag"], bool)  # an example of the wrong type is ignored
        assert 10 <= value["size"] <= 12
        assert value["createdAt"].endswith("Z") and "T" in value["createdAt"]


async def test_faked_ids_are_20_alphanumerics(harness: Harness) -> None:
    response = await harness.call(
        "forms.get_forms", {"locationId": harness.sb.location_id, "limit": 2}
    )
    forms = response.json()["forms"]
    assert len(forms) == 2
    for form in forms:
        assert len(form["id"]) == 20 and form["id"].isalnum()
        assert form["locationId"] == harness.sb.location_id


@pytest.mark.parametrize(
    ("op_id", "params", "advance"),
    [
        ("forms.get_forms", {}, "skip"),
        ("invoices.list_invoices", {"altType": "location", "offset": 0}, "offset"),
        ("surveys.get_surveys_submissions", {}, "page"),
    ],
)
async def test_faked_list_pages_every_item_once_in_the_ops_style(
    make_harness: Any, op_id: str, params: dict[str, Any], advance: str
) -> None:
    h: Harness = make_harness(SandboxSettings(seed=9, fake_list_size=25))
    op = h.catalog.get(op_id)
    assert op.paging is not None
    loc = h.sb.location_id
    size = 10
    query: dict[str, Any] = {**params, op.paging.params["limit"]: size}
    for p in op.params:
        if p.name in ("locationId", "location_id", "altId"):
            query[p.name] = loc
        elif p.required and p.name not in query:
            query[p.name] = (p.enum or ["x"])[0]
    seen: list[str] = []
    for _ in range(5):
        response = await h.call(op_id, query)
        assert response.status == 200, response.body
        body = response.json()
        items = _at(body, op.response.items or "")
        seen.extend(i.get("id") or i.get("_id") for i in items)
        if advance == "skip":
            query["skip"] = query.get("skip", 0) + size
        elif advance == "offset":
            query["offset"] += size
        elif advance == "page":
            query["page"] = query.get("page", 1) + 1
        if not items:
            break
    assert len(seen) == 25 and len(set(seen)) == 25


def _at(body: Any, path: str) -> Any:
    for part in path.split(".") if path else []:
        body = body[part]
    return body
