"""A contact's notes and tasks are real state: CRUD, completion, the location's task search,
and each write announced as a change (what the webhook sender turns into events)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, ForbiddenError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox.handlers import HANDLERS, contacts, notes, tasks, users
from ghlbridge.sandbox.validation import schema_problems

BASE = "http://sandbox"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    handlers = {
        **HANDLERS,
        **contacts.HANDLERS,
        **notes.HANDLERS,
        **tasks.HANDLERS,
        **users.HANDLERS,
    }
    box = Sandbox(SandboxSettings(seed=17, rate_limit=RateLimit(100_000, 10.0)), handlers=handlers)
    yield box
    box.close()


def _client(sb: Sandbox, token: str | None = None) -> GHLClient:
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    return GHLClient(
        token or sb.location_token.value,
        transport=transport,
        base_url=BASE,
        location_id=sb.location_id,
    )


@pytest.fixture
def client(sb: Sandbox) -> GHLClient:
    return _client(sb)


def _fits(op_id: str, answer: Any) -> Any:
    schema = load_catalog().get(op_id).response.schema
    assert schema is not None and schema_problems(schema, answer) == [], op_id
    return answer


async def _contact(client: GHLClient, **fields: Any) -> str:
    made = await client.call("contacts.create_contact", body=fields)
    return str(made["contact"]["id"])


async def test_notes_crud_reads_back_what_was_written(sb: Sandbox, client: GHLClient) -> None:
    changes: list[Change] = []
    sb.world.subscribe(changes.append)
    contact_id = await _contact(client, firstName="N")
    ref = {"contactId": contact_id}
    made = _fits(
        "contacts.create_note",
        await client.call("contacts.create_note", ref, {"body": "Called, left a message"}),
    )
    note = made["note"]
    assert note["contactId"] == contact_id and note["body"] == "Called, left a message"
    assert note["dateAdded"].endswith("Z")
    second = (await client.call("contacts.create_note", ref, {"body": "Second", "pinned": True}))[
        "note"
    ]
    listed = await client.call("contacts.get_all_notes", ref)
    assert [n["id"] for n in listed["notes"]] == [note["id"], second["id"]]
    note_ref = {**ref, "id": note["id"]}
    updated = await client.call("contacts.update_note", note_ref, {"body": "Called back"})
    assert updated["note"]["body"] == "Called back" and updated["note"]["id"] == note["id"]
    assert (await client.call("contacts.get_note", note_ref)) == updated
    assert await client.call("contacts.delete_note", note_ref) == {"succeded": True}
    with pytest.raises(BadRequestError, match="Note not found"):
        await client.call("contacts.get_note", note_ref)
    actions = [(c.resource, c.action) for c in changes if c.resource == "notes"]
    assert actions == [("notes", "create"), ("notes", "create"), ("notes", "update"),
                       ("notes", "delete")]  # fmt: skip
    assert all(c.location_id == sb.location_id for c in changes)


async def test_a_note_is_not_found_under_another_contact(client: GHLClient) -> None:
    owner, other = await _contact(client, firstName="A"), await _contact(client, firstName="B")
    note = (await client.call("contacts.create_note", {"contactId": owner}, {"body": "x"}))["note"]
    with pytest.raises(BadRequestError, match="Note not found"):
        await client.call("contacts.get_note", {"contactId": other, "id": note["id"]})


async def test_tasks_crud_and_completion(sb: Sandbox, client: GHLClient) -> None:
    changes: list[Change] = []
    sb.world.subscribe(changes.append)
    contact_id = await _contact(client, firstName="T")
    ref = {"contactId": contact_id}
    body = {"title": "Call back", "dueDate": "2030-01-02T03:04:05Z", "completed": False}
    task = _fits("contacts.create_task", await client.call("contacts.create_task", ref, body))[
        "task"
    ]
    assert task["dueDate"] == "2030-01-02T03:04:05.000Z" and task["completed"] is False
    task_ref = {**ref, "taskId": task["id"]}
    moved = await client.call(
        "contacts.update_task", task_ref, {"dueDate": "2030-02-01T00:00:00+01:00", "body": "b"}
    )
    assert moved["task"]["dueDate"] == "2030-01-31T23:00:00.000Z"
    done = await client.call("contacts.update_task_completed", task_ref, {"completed": True})
    assert done["task"]["completed"] is True
    assert (await client.call("contacts.get_task", task_ref))["task"] == done["task"]
    assert [t["id"] for t in (await client.call("contacts.get_all_tasks", ref))["tasks"]] == [
        task["id"]
    ]
    assert await client.call("contacts.delete_task", task_ref) == {"succeded": True}
    assert (await client.call("contacts.get_all_tasks", ref)) == {"tasks": []}
    completed = [c for c in changes if c.resource == "tasks" and c.action == "update"]
    assert completed[-1].previous is not None and completed[-1].previous["completed"] is False
    assert completed[-1].record["completed"] is True


async def test_task_with_an_unreadable_due_date_answers_422(client: GHLClient) -> None:
    contact_id = await _contact(client, firstName="D")
    with pytest.raises(BadRequestError, match="dueDate must be a valid ISO 8601"):
        await client.call(
            "contacts.create_task",
            {"contactId": contact_id},
            {"title": "x", "dueDate": "next tuesday", "completed": False},
        )


async def test_task_search_filters_and_pages_with_skip_limit(client: GHLClient) -> None:
    ada = await _contact(client, firstName="Ada", lastName="L", email="ada@example.com")
    bob = await _contact(client, firstName="Bob", email="bob@example.com")
    made = []
    for i in range(7):
        who = ada if i % 2 == 0 else bob
        body = {"title": f"Task {i}", "dueDate": "2030-01-01T00:00:00Z", "completed": i == 4}
        made.append((await client.call("contacts.create_task", {"contactId": who}, body))["task"])
    pager = client.pager(
        "locations.task_search", {"locationId": client.location_id}, {}, page_size=3
    )
    seen = [t["id"] async for t in pager.items()]
    assert seen == [t["id"] for t in made]
    only_ada = await client.call(
        "locations.task_search", body={"contactId": [ada], "completed": False}
    )
    titles = [t["title"] for t in only_ada["tasks"]]
    assert titles == ["Task 0", "Task 2", "Task 6"]
    first = only_ada["tasks"][0]
    assert first["contactDetails"]["firstName"] == "Ada"
    text = await client.call("locations.task_search", body={"query": "task 5"})
    assert [t["title"] for t in text["tasks"]] == ["Task 5"]
    await client.call("contacts.delete_contact", {"contactId": bob})
    remaining = await client.call("locations.task_search", body={"limit": 100})
    assert [t["title"] for t in remaining["tasks"]] == ["Task 0", "Task 2", "Task 4", "Task 6"]


async def test_task_search_names_the_assigned_user(sb: Sandbox, client: GHLClient) -> None:
    agency = _client(sb, sb.agency_token.value)
    user = await agency.call(
        "users.create_user",
        body={
            "companyId": sb.company_id,
            "firstName": "Una",
            "lastName": "Owner",
            "email": "una@example.com",
            "password": "secret-1",
            "type": "account",
            "role": "user",
            "locationIds": [sb.location_id],
        },
    )
    contact_id = await _contact(client, firstName="C")
    body = {"title": "Assigned", "dueDate": "2030-01-01T00:00:00Z", "completed": False}
    await client.call(
        "contacts.create_task", {"contactId": contact_id}, {**body, "assignedTo": user["id"]}
    )
    found = await client.call("locations.task_search", body={"assignedTo": [user["id"]]})
    assert found["tasks"][0]["assignedToUserDetails"]["firstName"] == "Una"


async def test_notes_of_another_locations_contact_are_forbidden(sb: Sandbox) -> None:
    first = _client(sb)
    other_loc, pit = sb.add_location(name="Other")
    second = _client(sb, pit.value)
    second.location_id = other_loc.id
    contact_id = await _contact(second, firstName="Elsewhere")
    with pytest.raises(ForbiddenError):
        await first.call("contacts.get_all_notes", {"contactId": contact_id})
