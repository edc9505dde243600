"""Custom objects, their records, associations and relations are real state: seeded standard
objects and a demo custom object, records that read back and page by page or searchAfter,
associations with GHL's rules, and relations that follow their records and associations."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ghlbridge.sandbox import Change, SandboxSettings, core
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS, associations, objects
from ghlbridge.sandbox.state import Seeder
from tests.sandbox.harness import Harness

OBJECT_HANDLERS = {**objects.HANDLERS, **associations.HANDLERS}
OBJECT_SEEDERS: tuple[Seeder, ...] = (*objects.SEEDERS, *associations.SEEDERS)
PETS = objects.DEMO_OBJECT


def register_object_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Serve objects and associations from state in every `Sandbox` built in this test.

    A no-op once ``handlers/__init__.py`` registers the two modules itself.
    """
    monkeypatch.setattr(core, "HANDLERS", {**HANDLERS, **OBJECT_HANDLERS})
    missing = tuple(s for s in OBJECT_SEEDERS if s not in SEEDERS)
    monkeypatch.setattr(core, "SEEDERS", (*SEEDERS, *missing))


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch) -> Harness:
    register_object_handlers(monkeypatch)
    return Harness(SandboxSettings(seed=7))


@pytest.fixture
def changes(h: Harness) -> Iterator[list[Change]]:
    seen: list[Change] = []
    stop = h.sb.world.subscribe(seen.append)
    yield seen
    stop()


async def _ok(h: Harness, op_id: str, params: dict[str, Any], body: Any = None, **kw: Any) -> Any:
    response = await h.call(op_id, params, body, **kw)
    assert response.status in (200, 201), (op_id, response.status, response.body)
    return response.json()


async def _error(h: Harness, op_id: str, params: dict[str, Any], body: Any = None) -> Any:
    response = await h.call(op_id, params, body)
    assert 400 <= response.status < 500, (op_id, response.status, response.body)
    error = response.json()
    assert error["statusCode"] == response.status and error["message"]
    return error


async def _pet(h: Harness, **properties: Any) -> dict[str, Any]:
    body = {"locationId": h.sb.location_id, "properties": properties}
    record: dict[str, Any] = (
        await _ok(h, "objects.create_object_record", {"schemaKey": PETS}, body)
    )["record"]
    return record


async def _contact(h: Harness, email: str) -> str:
    body = {"locationId": h.sb.location_id, "email": email}
    contact_id: str = (await _ok(h, "contacts.create_contact", {}, body))["contact"]["id"]
    return contact_id


async def _pet_owner_association(h: Harness) -> dict[str, Any]:
    body = {
        "locationId": h.sb.location_id,
        "key": "pet_owner",
        "firstObjectKey": PETS,
        "firstObjectLabel": "Pet",
        "secondObjectKey": "contact",
        "secondObjectLabel": "Owner",
    }
    created: dict[str, Any] = await _ok(h, "associations.create_association", {}, body)
    return created


# -- schemas ---------------------------------------------------------------------------------
async def test_location_holds_standard_objects_and_the_demo_custom_object(
    h: Harness,
) -> None:
    body = await _ok(h, "objects.get_object_by_location_id", {"locationId": h.sb.location_id})
    objs = body["objects"]
    assert [o["key"] for o in objs] == ["contact", "opportunity", "business", PETS]
    assert [o["standard"] for o in objs] == [True, True, True, False]
    assert [o["type"] for o in objs] == ["SYSTEM_DEFINED"] * 3 + ["USER_DEFINED"]
    pets = objs[3]
    assert pets["labels"] == {"singular": "Pet", "plural": "Pets"}
    assert pets["primaryDisplayProperty"] == f"{PETS}.name"
    assert len(pets["id"]) == 24 and int(pets["id"], 16) >= 0
    assert all(o["locationId"] == h.sb.location_id for o in objs)


async def test_object_schema_reads_by_key_or_id_with_fields_on_request(h: Harness) -> None:
    loc = h.sb.location_id
    by_key = await _ok(h, "objects.get_object_schema_by_key", {"key": PETS, "locationId": loc})
    assert by_key["cache"] is False and "fields" not in by_key
    params = {"key": by_key["object"]["id"], "locationId": loc, "fetchProperties": "true"}
    by_id = await _ok(h, "objects.get_object_schema_by_key", params)
    assert by_id["object"] == by_key["object"]
    fields = {f["fieldKey"]: f for f in by_id["fields"]}
    assert set(fields) == {f"{PETS}.name", f"{PETS}.breed"}
    assert fields[f"{PETS}.name"]["name"] == "Pet name"
    assert all(f["objectKey"] == PETS and f["dataType"] == "TEXT" for f in fields.values())
    error = await _error(
        h, "objects.get_object_schema_by_key", {"key": "custom_objects.nope", "locationId": loc}
    )
    assert error == {
        "statusCode": 400,
        "message": "Object schema not found",
        "error": "Bad Request",
    }


async def test_creating_a_custom_object_takes_an_agency_token_and_normalizes_its_key(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    body = {
        "locationId": loc,
        "key": "vehicle",
        "labels": {"singular": "Vehicle", "plural": "Vehicles"},
        "description": "Company cars",
        "primaryDisplayPropertyDetails": {"key": "model", "name": "Model", "dataType": "TEXT"},
    }
    refused = await h.call("objects.create_custom_object_schema", {}, body)
    assert refused.status == 401
    agency = h.sb.agency_token.value
    created = await h.call("objects.create_custom_object_schema", {}, body, token=agency)
    assert created.status == 201, created.body
    obj = created.json()["object"]
    assert obj["key"] == "custom_objects.vehicle" and obj["standard"] is False
    assert obj["primaryDisplayProperty"] == "custom_objects.vehicle.model"
    assert obj["description"] == "Company cars"
    again = await h.call("objects.create_custom_object_schema", {}, body, token=agency)
    assert again.status == 400 and "already exists" in again.json()["message"]
    bad_key = {**body, "key": "Big Trucks"}
    answer = await h.call("objects.create_custom_object_schema", {}, bad_key, token=agency)
    assert answer.status == 400 and "lower case" in answer.json()["message"]
    details = {"key": "plate", "name": "Plate", "dataType": "DATE"}
    bad_type = {**body, "key": "trucks", "primaryDisplayPropertyDetails": details}
    answer = await h.call("objects.create_custom_object_schema", {}, bad_type, token=agency)
    assert answer.status == 400 and "TEXT or NUMERICAL" in answer.json()["message"]
    listed = await _ok(h, "objects.get_object_by_location_id", {"locationId": loc})
    assert [o["key"] for o in listed["objects"]][-1] == "custom_objects.vehicle"
    params = {"key": obj["key"], "locationId": loc, "fetchProperties": "true"}
    fields = (await _ok(h, "objects.get_object_schema_by_key", params))["fields"]
    assert [(f["fieldKey"], f["name"], f["dataType"]) for f in fields] == [
        ("custom_objects.vehicle.model", "Model", "TEXT")
    ]


async def test_updating_an_object_changes_labels_and_searchable_properties(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    body = {
        "locationId": loc,
        "labels": {"plural": "Animals"},
        "description": None,
        "searchableProperties": ["breed", f"{PETS}.color"],
    }
    obj = (await _ok(h, "objects.update_custom_object", {"key": PETS}, body))["object"]
    assert obj["labels"] == {"singular": "Pet", "plural": "Animals"}
    assert obj["description"] is None
    assert obj["searchableProperties"] == [f"{PETS}.name", f"{PETS}.breed", f"{PETS}.color"]
    standard = {"locationId": loc, "searchableProperties": ["email"]}
    contact = (await _ok(h, "objects.update_custom_object", {"key": "contact"}, standard))["object"]
    assert contact["searchableProperties"] == ["contact.name", "contact.email"]
    relabel = {**standard, "labels": {"singular": "Person", "plural": "People"}}
    error = await _error(h, "objects.update_custom_object", {"key": "contact"}, relabel)
    assert "cannot be changed" in error["message"]


# -- records ---------------------------------------------------------------------------------
async def test_record_reads_back_updates_by_merging_properties_and_deletes(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    user = h.sb.location_token.user_id
    body = {
        "locationId": loc,
        "owner": [user],
        "followers": ["f1", "f2"],
        "properties": {f"{PETS}.name": "Rex", "breed": "Boxer"},
    }
    created = (await _ok(h, "objects.create_object_record", {"schemaKey": PETS}, body))["record"]
    assert created["properties"] == {"name": "Rex", "breed": "Boxer"}
    assert created["owner"] == [user] and created["followers"] == ["f1", "f2"]
    assert created["objectKey"] == PETS and created["locationId"] == loc
    assert created["createdAt"] == created["dateAdded"] and created["dateAdded"].endswith("Z")
    assert created["createdBy"]["source"] == "PUBLIC_API"
    key = {"schemaKey": PETS, "id": created["id"]}
    assert (await _ok(h, "objects.get_record_by_id", key))["record"] == created
    change = {"properties": {"breed": "Mixed", "age": 3}, "followers": []}
    updated = await _ok(h, "objects.update_object_record", {**key, "locationId": loc}, change)
    assert updated["record"]["properties"] == {"name": "Rex", "breed": "Mixed", "age": 3}
    assert updated["record"]["followers"] == [] and updated["record"]["owner"] == [user]
    deleted = await _ok(h, "objects.delete_object_record", key)
    assert deleted == {"id": created["id"], "success": True}
    error = await _error(h, "objects.get_record_by_id", key)
    assert error["message"] == "Record not found"


async def test_records_refuse_contacts_extra_owners_and_the_wrong_object(h: Harness) -> None:
    loc = h.sb.location_id
    body: dict[str, Any] = {"locationId": loc, "properties": {"name": "x"}}
    error = await _error(h, "objects.create_object_record", {"schemaKey": "contact"}, body)
    assert "not supported" in error["message"]
    two_owners = {**body, "owner": ["a", "b"]}
    error = await _error(h, "objects.create_object_record", {"schemaKey": PETS}, two_owners)
    assert "at most 1" in error["message"]
    not_object = {**body, "properties": ["name"]}
    error = await _error(h, "objects.create_object_record", {"schemaKey": PETS}, not_object)
    assert error["message"] == "properties must be an object"
    business = await _ok(h, "objects.create_object_record", {"schemaKey": "business"}, body)
    wrong = {"schemaKey": PETS, "id": business["record"]["id"]}
    await _error(h, "objects.get_record_by_id", wrong)


async def test_record_search_pages_by_page_and_by_search_after(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    register_object_handlers(monkeypatch)
    h = Harness(SandboxSettings(seed=3, demo_records=7))
    loc = h.sb.location_id
    op, key = "objects.search_object_records", {"schemaKey": PETS}
    base = {"locationId": loc, "pageLimit": 3, "query": "*", "searchAfter": []}
    by_page: list[str] = []
    for page in (1, 2, 3):
        body = await _ok(h, op, key, {**base, "page": page})
        assert body["total"] == 7
        by_page.extend(r["properties"]["name"] for r in body["records"])
    assert by_page == ["Buddy", "Luna", "Max", "Bella", "Charlie", "Daisy", "Buddy 6"]
    by_marker: list[str] = []
    marker: list[str] = []
    while True:
        records = (await _ok(h, op, key, {**base, "page": 1, "searchAfter": marker}))["records"]
        if not records:
            break
        by_marker.extend(r["properties"]["name"] for r in records)
        sort_ms, record_id = records[-1]["searchAfter"]
        marker = [str(sort_ms), record_id]  # the catalog types searchAfter items as strings
    assert by_marker == by_page
    found = await _ok(h, op, key, {**base, "page": 1, "query": "name:bu"})
    assert [r["properties"]["name"] for r in found["records"]] == ["Buddy", "Buddy 6"]
    found = await _ok(h, op, key, {**base, "page": 1, "query": "persian"})
    assert [r["properties"]["name"] for r in found["records"]] == ["Bella"]


# -- associations ----------------------------------------------------------------------------
async def test_associations_create_read_by_id_key_and_object_and_list_with_paging(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    created = await _pet_owner_association(h)
    assert created["associationType"] == "USER_DEFINED" and len(created["id"]) == 24
    assert created["firstObjectLabel"] == "Pet" and created["secondObjectKey"] == "contact"
    by_id = await _ok(h, "associations.get_association_by_id", {"associationId": created["id"]})
    assert by_id == created
    params = {"key_name": "pet_owner", "locationId": loc}
    assert await _ok(h, "associations.get_association_key_by_key_name", params) == created
    by_object = await _ok(h, "associations.get_association_by_object_keys", {"objectKey": PETS})
    assert by_object["associations"] == [created] and by_object["total"] == 1
    keys: list[str] = []
    for skip in (0, 2):
        page = await _ok(
            h, "associations.find_associations", {"locationId": loc, "skip": skip, "limit": 2}
        )
        assert page["total"] == 3
        keys.extend(a["key"] for a in page["associations"])
    assert keys == ["contact_business", "opportunity_contact", "pet_owner"]


async def test_associations_refuse_duplicate_keys_unknown_objects_and_unsupported_pairs(
    h: Harness,
) -> None:
    await _pet_owner_association(h)
    base = {
        "locationId": h.sb.location_id,
        "key": "pet_owner",
        "firstObjectKey": PETS,
        "firstObjectLabel": "Pet",
        "secondObjectKey": "contact",
        "secondObjectLabel": "Owner",
    }
    op = "associations.create_association"
    assert "already exists" in (await _error(h, op, {}, base))["message"]
    unknown = {**base, "key": "x1", "firstObjectKey": "custom_objects.ghost"}
    assert "not an object" in (await _error(h, op, {}, unknown))["message"]
    pair = {**base, "key": "x2", "secondObjectKey": "opportunity"}
    assert "contacts and custom objects" in (await _error(h, op, {}, pair))["message"]


async def test_only_user_defined_associations_change_and_deleting_one_drops_its_relations(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    created = await _pet_owner_association(h)
    labels = {"firstObjectLabel": "Animal", "secondObjectLabel": "Keeper"}
    path = {"associationId": created["id"]}
    updated = await _ok(h, "associations.update_association", path, labels)
    assert (updated["firstObjectLabel"], updated["secondObjectLabel"]) == ("Animal", "Keeper")
    system = await _ok(
        h,
        "associations.get_association_key_by_key_name",
        {"key_name": "contact_business", "locationId": loc},
    )
    system_path = {"associationId": system["id"]}
    await _error(h, "associations.update_association", system_path, labels)
    await _error(h, "associations.delete_association", system_path)
    pet = await _pet(h, name="Rex")
    owner = await _contact(h, "owner@example.com")
    relation_body = {
        "locationId": loc,
        "associationId": created["id"],
        "firstRecordId": pet["id"],
        "secondRecordId": owner,
    }
    await _ok(h, "associations.create_relation", {}, relation_body)
    deleted = await _ok(h, "associations.delete_association", path)
    assert deleted == {
        "deleted": True,
        "id": created["id"],
        "message": "Association deleted successfully",
    }
    listed = await _ok(
        h,
        "associations.get_relations_by_record_id",
        {"recordId": owner, "locationId": loc, "skip": 0, "limit": 10},
    )
    assert listed["relations"] == [] and listed["total"] == 0
    await _error(h, "associations.get_association_by_id", path)


# -- relations -------------------------------------------------------------------------------
async def test_relations_link_existing_records_once_and_list_from_either_side(
    h: Harness,
) -> None:
    loc = h.sb.location_id
    association = await _pet_owner_association(h)
    rex, fido = await _pet(h, name="Rex"), await _pet(h, name="Fido")
    owner = await _contact(h, "owner@example.com")
    base = {"locationId": loc, "associationId": association["id"], "secondRecordId": owner}
    first = await _ok(h, "associations.create_relation", {}, {**base, "firstRecordId": rex["id"]})
    assert first["firstRecordId"] == rex["id"] and first["secondRecordId"] == owner
    assert (first["firstObjectKey"], first["secondObjectKey"]) == (PETS, "contact")
    assert first["key"] == "pet_owner" and first["associationType"] == "USER_DEFINED"
    await _ok(h, "associations.create_relation", {}, {**base, "firstRecordId": fido["id"]})
    again = await _error(
        h, "associations.create_relation", {}, {**base, "firstRecordId": rex["id"]}
    )
    assert "already related" in again["message"]
    swapped = {**base, "firstRecordId": owner, "secondRecordId": rex["id"]}
    assert (
        "not a record of"
        in (await _error(h, "associations.create_relation", {}, swapped))["message"]
    )
    ghost = {**base, "firstRecordId": "0" * 24}
    await _error(h, "associations.create_relation", {}, ghost)
    params = {"recordId": owner, "locationId": loc, "skip": 0, "limit": 1}
    page = await _ok(h, "associations.get_relations_by_record_id", params)
    assert page["total"] == 2 and [r["firstRecordId"] for r in page["relations"]] == [rex["id"]]
    page = await _ok(h, "associations.get_relations_by_record_id", {**params, "skip": 1})
    assert [r["firstRecordId"] for r in page["relations"]] == [fido["id"]]
    from_pet = {"recordId": rex["id"], "locationId": loc, "skip": 0, "limit": 10}
    page = await _ok(h, "associations.get_relations_by_record_id", from_pet)
    assert [r["id"] for r in page["relations"]] == [first["id"]]
    other = {**from_pet, "associationIds": "0" * 24}
    assert (await _ok(h, "associations.get_relations_by_record_id", other))["relations"] == []


async def test_relations_delete_by_id_and_go_when_their_record_goes(h: Harness) -> None:
    loc = h.sb.location_id
    association = await _pet_owner_association(h)
    rex, fido = await _pet(h, name="Rex"), await _pet(h, name="Fido")
    owner = await _contact(h, "owner@example.com")
    base = {"locationId": loc, "associationId": association["id"], "secondRecordId": owner}
    first = await _ok(h, "associations.create_relation", {}, {**base, "firstRecordId": rex["id"]})
    await _ok(h, "associations.create_relation", {}, {**base, "firstRecordId": fido["id"]})
    path = {"relationId": first["id"], "locationId": loc}
    assert (await _ok(h, "associations.delete_relation", path))["id"] == first["id"]
    await _error(h, "associations.delete_relation", path)
    await _ok(h, "objects.delete_object_record", {"schemaKey": PETS, "id": fido["id"]})
    params = {"recordId": owner, "locationId": loc, "skip": 0, "limit": 10}
    assert (await _ok(h, "associations.get_relations_by_record_id", params))["total"] == 0


async def test_writes_are_announced_under_their_resource_names(
    h: Harness, changes: list[Change]
) -> None:
    association = await _pet_owner_association(h)
    pet = await _pet(h, name="Rex")
    owner = await _contact(h, "owner@example.com")
    body = {
        "locationId": h.sb.location_id,
        "associationId": association["id"],
        "firstRecordId": pet["id"],
        "secondRecordId": owner,
    }
    await _ok(h, "associations.create_relation", {}, body)
    update = {"locationId": h.sb.location_id, "searchableProperties": []}
    await _ok(h, "objects.update_custom_object", {"key": PETS}, update)
    ours = {"associations", "objectRecords", "relations", "objectSchemas"}
    seen = [(c.resource, c.action) for c in changes if c.resource in ours]
    assert seen == [
        ("associations", "create"),
        ("objectRecords", "create"),
        ("relations", "create"),
        ("objectSchemas", "update"),
    ]
