"""Custom fields and values are real state: CRUD through the locations API and the
custom-fields app, and a contact's custom fields set by id or by key read back as [{id, value}]."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, cast

import pytest

from ghlbridge.catalog import Catalog, Operation, load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import RateLimit, Sandbox, SandboxSettings, core, create_app
from ghlbridge.sandbox.handlers import (
    HANDLERS,
    SEEDERS,
    contacts,
    custom_fields,
    custom_values,
    locations,
)
from ghlbridge.sandbox.validation import schema_problems

BASE = "http://sandbox"


@dataclass
class Env:
    sb: Sandbox
    client: GHLClient


async def _env(monkeypatch: pytest.MonkeyPatch, catalog: Catalog | None = None) -> Env:
    """A sandbox serving this module's handlers (until handlers/__init__.py registers them)."""
    mine = (locations.seed_location_profile, custom_fields.seed_custom_fields)
    monkeypatch.setattr(core, "SEEDERS", tuple(dict.fromkeys((mine[0], *SEEDERS, *mine[1:]))))
    handlers = {
        **HANDLERS,
        **contacts.HANDLERS,
        **custom_fields.HANDLERS,
        **custom_values.HANDLERS,
        **locations.HANDLERS,
    }
    settings = SandboxSettings(seed=21, rate_limit=RateLimit(100_000, 10.0), demo_records=0)
    sb = Sandbox(settings, catalog=catalog, handlers=handlers)
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    client = GHLClient(
        sb.location_token.value,
        transport=transport,
        base_url=BASE,
        location_id=sb.location_id,
        catalog=catalog,
    )
    return Env(sb, client)


@pytest.fixture
async def env(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Env]:
    made = await _env(monkeypatch)
    yield made
    made.sb.close()


def _fits(op_id: str, body: Any) -> None:
    schema = load_catalog().get(op_id).response.schema
    assert schema is not None
    assert schema_problems(schema, body) == [], op_id


async def _field(env: Env, name: str, data_type: str = "TEXT", **extra: Any) -> dict[str, Any]:
    body = {"name": name, "dataType": data_type, **extra}
    answer = await env.client.call("locations.create_custom_field", body=body)
    _fits("locations.create_custom_field", answer)
    field: dict[str, Any] = answer["customField"]
    return field


async def test_custom_field_crud_keeps_its_key_through_a_rename(env: Env) -> None:
    field = await _field(env, "Favourite Pet", placeholder="Dog?")
    assert field["fieldKey"] == "contact.favourite_pet"
    assert field["model"] == "contact" and field["dataType"] == "TEXT"
    assert field["locationId"] == env.sb.location_id
    ref = {"id": field["id"]}
    got = await env.client.call("locations.get_custom_field", ref)
    assert got == {"customField": field}
    renamed = await env.client.call("locations.update_custom_field", ref, {"name": "Pet Name"})
    assert renamed["customField"]["name"] == "Pet Name"
    assert renamed["customField"]["fieldKey"] == "contact.favourite_pet"
    listed = await env.client.call("locations.get_custom_fields", {"model": "contact"})
    _fits("locations.get_custom_fields", listed)
    assert [f["id"] for f in listed["customFields"]] == [field["id"]]
    assert await env.client.call("locations.delete_custom_field", ref) == {"succeded": True}
    with pytest.raises(BadRequestError, match="Custom field not found"):
        await env.client.call("locations.get_custom_field", ref)


async def test_fields_list_by_model_and_refuse_a_taken_key(env: Env) -> None:
    contact_field = await _field(env, "Budget", "NUMERICAL")
    deal_field = await _field(env, "Budget", "MONETORY", model="opportunity")
    assert deal_field["fieldKey"] == "opportunity.budget"
    with pytest.raises(BadRequestError, match=r"key 'contact\.budget' already exists"):
        await _field(env, "budget")
    by_model = {
        model: [f["id"] for f in (await env.client.call(
            "locations.get_custom_fields", {"model": model}
        ))["customFields"]]
        for model in ("contact", "opportunity", "all")
    }  # fmt: skip
    assert by_model == {
        "contact": [contact_field["id"]],
        "opportunity": [deal_field["id"]],
        "all": [contact_field["id"], deal_field["id"]],
    }


async def test_contact_custom_fields_by_id_read_back_and_update_only_what_they_name(
    env: Env,
) -> None:
    colour = await _field(env, "Colour")
    size = await _field(env, "Size")
    created = await env.client.call(
        "contacts.create_contact",
        body={
            "email": "cf@example.com",
            "customFields": [
                {"id": colour["id"], "field_value": "teal"},
                {"id": size["id"], "key": "contact.size", "field_value": "XL"},
            ],
        },
    )
    contact_id = created["contact"]["id"]
    expected = [{"id": colour["id"], "value": "teal"}, {"id": size["id"], "value": "XL"}]
    assert created["contact"]["customFields"] == expected
    ref = {"contactId": contact_id}
    await env.client.call(
        "contacts.update_contact", ref, {"customFields": [{"id": size["id"], "field_value": "S"}]}
    )
    got = await env.client.call("contacts.get_contact", ref)
    assert got["contact"]["customFields"] == [
        {"id": colour["id"], "value": "teal"},
        {"id": size["id"], "value": "S"},
    ]
    cleared = await env.client.call(
        "contacts.update_contact", ref, {"customFields": [{"id": colour["id"], "field_value": ""}]}
    )
    assert cleared["contact"]["customFields"] == [{"id": size["id"], "value": "S"}]


async def test_unknown_custom_field_is_refused_with_400(env: Env) -> None:
    with pytest.raises(BadRequestError, match="no custom field with id or key 'nope'"):
        await env.client.call(
            "contacts.create_contact",
            body={"email": "x@example.com", "customFields": [{"id": "nope", "field_value": "1"}]},
        )


def _key_only_catalog() -> Catalog:
    """The catalog with customFields items that may name a `key` without an `id`, as GHL
    accepts (the spec marks `id` required)."""

    def relax(op: Operation) -> Operation:
        if op.id not in ("contacts.create_contact", "contacts.update_contact") or not op.body:
            return op
        schema = dict(op.body.schema)
        props = dict(schema["properties"])
        items = props["customFields"]["items"]
        options = [{k: v for k, v in o.items() if k != "required"} for o in items["anyOf"]]
        props["customFields"] = {**props["customFields"], "items": {"anyOf": options}}
        body = dataclasses.replace(op.body, schema={**schema, "properties": props})
        return dataclasses.replace(op, body=body)

    return Catalog([relax(op) for op in load_catalog()])


async def test_contact_custom_fields_by_key_round_trip(monkeypatch: pytest.MonkeyPatch) -> None:
    env = await _env(monkeypatch, _key_only_catalog())
    try:
        score = await _field(env, "Lead Score", "NUMERICAL")
        plan = await _field(env, "Plan", "SINGLE_OPTIONS", options=["Starter", "Pro"])
        assert plan["picklistOptions"] == ["Starter", "Pro"]
        created = await env.client.call(
            "contacts.create_contact",
            body={
                "email": "key@example.com",
                "customFields": [
                    {"key": "contact.lead_score", "field_value": "42"},
                    {"key": "plan", "value": "Pro"},
                ],
            },
        )
        contact_id = created["contact"]["id"]
        updated = await env.client.call(
            "contacts.update_contact",
            {"contactId": contact_id},
            {"customFields": [{"key": "lead_score", "fieldValue": "43"}]},
        )
        assert updated["contact"]["customFields"] == [
            {"id": score["id"], "value": "43"},
            {"id": plan["id"], "value": "Pro"},
        ]
        got = await env.client.call("contacts.get_contact", {"contactId": contact_id})
        assert got["contact"]["customFields"] == updated["contact"]["customFields"]
    finally:
        env.sb.close()


async def test_custom_values_crud_with_their_merge_tag(env: Env) -> None:
    made = await env.client.call(
        "locations.create_custom_value", body={"name": "Support Email", "value": "a@b.co"}
    )
    _fits("locations.create_custom_value", made)
    value = made["customValue"]
    assert value["fieldKey"] == "{{ custom_values.support_email }}"
    ref = {"id": value["id"]}
    with pytest.raises(BadRequestError, match="already exists"):
        await env.client.call(
            "locations.create_custom_value", body={"name": "support email", "value": "x"}
        )
    changed = await env.client.call(
        "locations.update_custom_value", ref, {"name": "Help Email", "value": "h@b.co"}
    )
    assert changed["customValue"]["fieldKey"] == "{{ custom_values.help_email }}"
    listed = await env.client.call("locations.get_custom_values")
    assert listed == {"customValues": [changed["customValue"]]}
    assert await env.client.call("locations.delete_custom_value", ref) == {"succeded": True}
    assert (await env.client.call("locations.get_custom_values")) == {"customValues": []}


async def test_custom_fields_app_keeps_fields_in_folders(env: Env) -> None:
    folder = await env.client.call(
        "custom_fields.create_custom_field_folder",
        body={"name": "Pet Facts", "objectKey": "custom_object.pet"},
    )
    _fits("custom_fields.create_custom_field_folder", folder)
    body = {
        "name": "Pet Name",
        "dataType": "TEXT",
        "fieldKey": "custom_object.pet.name",
        "objectKey": "custom_object.pet",
        "parentId": folder["id"],
        "showInForms": True,
    }
    made = await env.client.call("custom_fields.create_custom_field", body=body)
    _fits("custom_fields.create_custom_field", made)
    field = made["field"]
    assert field["parentId"] == folder["id"] and field["fieldKey"] == "custom_object.pet.name"
    with pytest.raises(BadRequestError, match="fieldKey must start with"):
        await env.client.call(
            "custom_fields.create_custom_field", body={**body, "fieldKey": "contact.x"}
        )
    listed = await env.client.call(
        "custom_fields.get_custom_fields_by_object_key", {"objectKey": "custom_object.pet"}
    )
    assert [f["id"] for f in listed["fields"]] == [field["id"]]
    assert [f["id"] for f in listed["folders"]] == [folder["id"]]
    ref = {"id": field["id"]}
    renamed = await env.client.call(
        "custom_fields.update_custom_field",
        ref,
        {"locationId": env.sb.location_id, "showInForms": False, "name": "Pet's Name"},
    )
    assert renamed["field"]["name"] == "Pet's Name" and renamed["field"]["showInForms"] is False
    folder_ref = {"id": folder["id"]}
    with pytest.raises(BadRequestError, match="Folder still holds custom fields"):
        await env.client.call("custom_fields.delete_custom_field_folder", folder_ref)
    gone = await env.client.call("custom_fields.delete_custom_field", ref)
    assert gone == {"succeded": True, "id": field["id"], "key": "custom_object.pet.name"}
    deleted = await env.client.call("custom_fields.delete_custom_field_folder", folder_ref)
    assert deleted["succeded"] is True


async def test_new_locations_get_demo_custom_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        core,
        "SEEDERS",
        tuple(dict.fromkeys((*SEEDERS, custom_fields.seed_custom_fields))),
    )
    sb = Sandbox(SandboxSettings(seed=3, demo_records=3))
    try:
        fields = list(sb.location().collection(custom_fields.CUSTOM_FIELDS))
        contact_keys = [f["fieldKey"] for f in fields if f["fieldKey"].startswith("contact.")]
        assert contact_keys == [
            "contact.favourite_colour",
            "contact.lead_score",
            "contact.plan",
        ]
    finally:
        sb.close()
