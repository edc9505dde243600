"""The curated layer: the brief's 124 named triggers/actions, webhook events, polling candidates.

Counts and mappings are checked against the committed `curated.yaml` and catalog everywhere;
the comparison with the brief's own list (`shared/seed-operations.json`) and GHL's webhook pages
needs `shared/` and skips with a reason without it.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from ghlbridge.catalog import Catalog, load_catalog, snake
from ghlbridge.catalog.curated import (
    Curated,
    CuratedError,
    CuratedOperation,
    PollHints,
    UnknownCuratedError,
    body_fields,
    list_item_fields,
    load_curated,
    polling_candidates,
    resolve_defaults,
    split_params_body,
)
from ghlbridge.catalog.generate import default_shared

SHARED = default_shared()
SEEDS = SHARED / "seed-operations.json"
WEBHOOK_DOCS = SHARED / "ghl-docs" / "webhook-events"
TOC = SHARED / "ghl-openapi" / "toc.json"

needs_seeds = pytest.mark.skipif(
    not SEEDS.is_file(), reason=f"seed list not found at {SEEDS} (set GHLBRIDGE_SHARED)"
)
needs_webhook_docs = pytest.mark.skipif(
    not (WEBHOOK_DOCS.is_dir() and TOC.is_file()),
    reason=f"GHL webhook docs not found under {SHARED} (set GHLBRIDGE_SHARED)",
)

# (category, kind) -> count, as in the brief; holds without shared/.
SEED_COUNTS = {
    ("Contacts", "trigger"): 10,
    ("Contacts", "action"): 18,
    ("Calendars & Appointments", "trigger"): 12,
    ("Calendars & Appointments", "action"): 22,
    ("Opportunities", "trigger"): 3,
    ("Opportunities", "action"): 7,
    ("Users", "trigger"): 4,
    ("Users", "action"): 3,
    ("Conversations & Messages", "trigger"): 8,
    ("Conversations & Messages", "action"): 2,
    ("Businesses", "trigger"): 2,
    ("Businesses", "action"): 3,
    ("Workflows & Campaigns", "trigger"): 3,
    ("Workflows & Campaigns", "action"): 5,
    ("Other Operations", "trigger"): 13,
    ("Other Operations", "action"): 9,
}

# Seed kind vs catalog kind: a seed action maps to a write and a seed trigger to a read, except:
KIND_EXCEPTIONS = {
    "find_contact": "an action in the brief, but looking a contact up is a read "
    "(POST /contacts/search)",
    "find_location_by_id": "an action in the brief, but fetching a sub-account is a read "
    "(GET /locations/{locationId})",
}

# Defaults may name only real params/body fields, except where the spec declares a body without
# any fields (free-form) although the live API needs them:
FREE_FORM_BODY_DEFAULTS = {
    "contacts.search_contacts_advanced": "the spec's SearchBodyV2DTO is empty; the live API "
    "requires locationId in the body",
}

# A trigger on a list operation carries poll hints, except:
LIST_WITHOUT_POLL = {
    "list_calendar_resources": "the spec's resource items declare no id field",
    "search_contacts": "the spec declares no item schema, so poll fields cannot be checked",
    "find_contact": "a look-up by email, phone or id, not a feed",
}

# The brief's get-by-id look-ups stay triggers, fired on demand, with no poll hints.
LOOKUP_TRIGGERS = {
    "get_contact": "contacts.get_contact",
    "get_contact_task_by_id": "contacts.get_task",
    "get_contact_note_by_id": "contacts.get_note",
    "get_calendar_by_id": "calendars.get_calendar",
    "get_appointment": "calendars.get_appointment",
    "get_calendar_notification": "calendars.find_event_notification",
    "get_calendar_resource": "calendars.get_calendar_resource",
    "get_opportunity": "opportunities.get_opportunity",
    "get_user": "users.get_user",
    "get_conversation": "conversations.get_conversation",
    "get_email_by_id": "conversations.get_email_by_id",
    "get_message_by_id": "conversations.get_message",
    "get_business": "businesses.get_business",
    "get_company": "companies.get_company",
    "get_association": "associations.get_association_by_id",
}

# Mappings where the seed name alone leaves room for doubt; pinned so they do not drift.
PINNED = {
    "get_contacts_by_business": "contacts.get_contacts_by_business_id",
    "list_contacts_deprecated": "contacts.get_contacts",
    "search_contacts": "contacts.search_contacts_advanced",
    "find_contact": "contacts.search_contacts_advanced",
    "bulk_update_contact_tags": "contacts.create_association",
    "complete_contact_task": "contacts.update_task_completed",
    "update_group_status": "calendars.disable_group",
    "delete_event": "calendars.delete_event",
    "list_calendar_notifications": "calendars.get_event_notification",
    "search_opportunities": "opportunities.search_opportunity",
    "add_followers": "opportunities.add_followers_opportunity",
    "add_contact_followers": "contacts.add_followers_contact",
    "list_users_by_location": "users.get_user_by_location",
    "update_message_status": "conversations.update_message_status",
    "agent_typing_indicator": "conversations.live_chat_agent_typing",
    "list_workflows": "workflows.get_workflow",
    "list_snapshots": "snapshots.get_custom_snapshots",
    "remove_from_workflow": "contacts.delete_contact_from_workflow",
    "bulk_business_update": "contacts.add_remove_contact_from_business",
    "list_locations": "locations.search_locations",
    "list_custom_fields": "locations.get_custom_fields",
    "get_blog_posts": "blogs.get_blog_post",
    "find_location_by_id": "locations.get_location",
}

LOCATION_DEFAULT = "{{ connection.location_id }}"
COMPANY_DEFAULT = "{{ connection.company_id }}"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def curated(catalog: Catalog) -> Curated:
    return load_curated(catalog)


def _fields(catalog: Catalog, entry: CuratedOperation) -> set[str]:
    op = catalog.get(entry.op_id)
    return {p.name for p in op.params} | (body_fields(op) or set())


# --------------------------------------------------------------------------- the 124 entries


def test_counts_without_shared(curated: Curated) -> None:
    assert len(curated) == 124
    assert len(curated.operations()) == 124
    assert Counter((e.category, e.kind) for e in curated) == SEED_COUNTS
    assert len(curated.triggers()) == 55
    assert len(curated.actions()) == 69
    assert all(e.kind == "trigger" for e in curated.triggers())
    assert all(e.kind == "action" for e in curated.actions())


def test_names_are_unique_snake_case_of_titles(curated: Curated) -> None:
    names = [e.name for e in curated]
    assert len(set(names)) == len(names)
    for e in curated:
        assert e.name == snake(e.title), e.title
    assert "list_contacts_deprecated" in curated
    assert "get_contacts_by_business" in curated


@needs_seeds
def test_entries_equal_the_seed_list(curated: Curated) -> None:
    seeds = json.loads(SEEDS.read_text(encoding="utf-8"))
    assert len(seeds) == 124
    got = [(e.title, e.category, e.kind) for e in curated]
    want = [(s["name"], s["category"], s["kind"]) for s in seeds]
    assert got == want
    for entry, seed in zip(curated, seeds, strict=True):
        assert entry.description.strip().lower() != seed["description"].strip().lower(), entry.name


def test_descriptions_are_one_line(curated: Curated) -> None:
    for e in curated:
        assert e.description and "\n" not in e.description, e.name


def test_every_op_exists(curated: Curated, catalog: Catalog) -> None:
    for e in curated:
        assert e.op_id in catalog, e.name


def test_pinned_mappings(curated: Curated) -> None:
    for name, op_id in PINNED.items():
        assert curated.get(name).op_id == op_id, name


def test_kind_consistency(curated: Curated, catalog: Catalog) -> None:
    mismatched = {}
    for e in curated:
        op = catalog.get(e.op_id)
        expected = "write" if e.kind == "action" else "read"
        if op.kind != expected:
            mismatched[e.name] = (e.kind, op.kind)
    # The exception list is exact: every listed entry really mismatches, nothing else does.
    assert set(mismatched) == set(KIND_EXCEPTIONS), mismatched


def test_defaults_name_real_fields(curated: Curated, catalog: Catalog) -> None:
    for e in curated:
        op = catalog.get(e.op_id)
        fields = _fields(catalog, e)
        for key in e.defaults:
            if body_fields(op) is None:
                assert e.op_id in FREE_FORM_BODY_DEFAULTS, (e.name, key)
                continue
            assert key in fields, (e.name, key, sorted(fields))


def test_defaults_fill_location_and_company(curated: Curated, catalog: Catalog) -> None:
    """Every entry whose op takes a location or company id gets it from the connection."""
    for e in curated:
        fields = _fields(catalog, e)
        for name in ("locationId", "location_id"):
            if name in fields:
                assert e.defaults.get(name) == LOCATION_DEFAULT, (e.name, name)
        if {"altId", "altType"} <= fields:
            assert e.defaults.get("altId") == LOCATION_DEFAULT, e.name
            assert e.defaults.get("altType") == "location", e.name
        if "companyId" in fields:
            assert e.defaults.get("companyId") == COMPANY_DEFAULT, e.name
        for key, value in e.defaults.items():
            assert value in (LOCATION_DEFAULT, COMPANY_DEFAULT, "location"), (e.name, key)
    assert curated.get("search_opportunities").defaults == {"location_id": LOCATION_DEFAULT}
    assert curated.get("search_contacts").defaults == {"locationId": LOCATION_DEFAULT}
    assert curated.get("create_location").defaults == {"companyId": COMPANY_DEFAULT}
    assert curated.get("get_contact").defaults == {}


def test_poll_hints(curated: Curated, catalog: Catalog) -> None:
    for e in curated.actions():
        assert e.poll is None, e.name
    for e in curated.triggers():
        op = catalog.get(e.op_id)
        if e.poll is not None:
            assert op.is_list, e.name
            items = list_item_fields(op)
            assert e.poll.id_field in items, (e.name, e.poll.id_field)
            if e.poll.updated_field is not None:
                assert e.poll.updated_field in items, (e.name, e.poll.updated_field)
                assert e.poll.updated_field in ("dateUpdated", "updatedAt"), e.name
            else:
                assert not {"dateUpdated", "updatedAt"} & items, e.name
        elif op.is_list:
            assert e.name in LIST_WITHOUT_POLL, e.name
    for name, op_id in LOOKUP_TRIGGERS.items():
        entry = curated.get(name)
        assert entry.kind == "trigger" and entry.op_id == op_id and entry.poll is None, name
    assert curated.get("list_contacts_deprecated").poll == PollHints("id", None)
    assert curated.get("search_opportunities").poll == PollHints("id", "updatedAt")
    assert curated.get("list_calendar_events").poll == PollHints("id", "dateUpdated")
    assert curated.get("get_blog_posts").poll == PollHints("_id", "updatedAt")


# --------------------------------------------------------------------------- look-ups


def test_lookups(curated: Curated) -> None:
    entry = curated.get("get_contact")
    assert entry.title == "Get Contact" and entry.is_trigger and not entry.is_action
    assert curated.find("Get Contacts by Business") is curated.get("get_contacts_by_business")
    assert curated.find("list contacts (deprecated)") is curated.get("list_contacts_deprecated")
    assert curated.find("nope") is None
    with pytest.raises(UnknownCuratedError, match="did you mean get_contact"):
        curated.get("get_contactt")
    shared = curated.by_op("contacts.search_contacts_advanced")
    assert [e.name for e in shared] == ["search_contacts", "find_contact"]
    assert curated.by_op("contacts.get_contacts") == [curated.get("list_contacts_deprecated")]
    assert curated.by_op("social_media_posting.get_tags_location_id") == []


def test_load_is_cached(catalog: Catalog) -> None:
    assert load_curated(catalog) is load_curated(catalog)
    assert load_curated() is load_curated()


# --------------------------------------------------------------------------- webhook events

REQUIRED_EVENTS = {
    "ContactCreate",
    "ContactTagUpdate",
    "OpportunityStatusUpdate",
    "AppointmentCreate",
    "InboundMessage",
    "INSTALL",
    "UNINSTALL",
}

# Event -> scope as GHL's Scopes.md states it (ghl-facts.md 2.5).
DOCUMENTED_SCOPES = {
    "CampaignStatusUpdate": "campaigns.readonly",
    "ContactCreate": "contacts.readonly",
    "ContactDelete": "contacts.readonly",
    "ContactDndUpdate": "contacts.readonly",
    "ContactTagUpdate": "contacts.readonly",
    "NoteCreate": "contacts.readonly",
    "NoteDelete": "contacts.readonly",
    "TaskCreate": "contacts.readonly",
    "TaskDelete": "contacts.readonly",
    "ConversationUnreadUpdate": "conversations.readonly",
    "InboundMessage": "conversations/message.readonly",
    "OutboundMessage": "conversations/message.readonly",
    "ProviderOutboundMessage": "conversations/message.write",
    "LocationCreate": "locations.readonly",
    "LocationUpdate": "locations.readonly",
    "OpportunityCreate": "opportunities.readonly",
    "OpportunityDelete": "opportunities.readonly",
    "OpportunityStageUpdate": "opportunities.readonly",
    "OpportunityStatusUpdate": "opportunities.readonly",
    "OpportunityMonetaryValueUpdate": "opportunities.readonly",
}


def test_webhook_events(curated: Curated, catalog: Catalog) -> None:
    events = curated.webhook_events()
    types = {e.type for e in events}
    assert types >= REQUIRED_EVENTS
    assert len(events) == 59
    assert len({e.name for e in events}) == len(events)
    all_scopes = {s for op in catalog for s in op.scopes}
    for e in events:
        assert e.app in catalog.apps(), e.type
        assert e.scope is None or e.scope in all_scopes, (e.type, e.scope)
        if e.scope_documented and e.scope is not None:
            assert DOCUMENTED_SCOPES.get(e.type) == e.scope, e.type
    for event_type, scope in DOCUMENTED_SCOPES.items():
        event = curated.webhook_event(event_type)
        assert event is not None and event.scope == scope and event.scope_documented, event_type
    install = curated.webhook_event("INSTALL")
    assert install is not None and install.scope is None and install.app == "marketplace"
    appointment = curated.webhook_event("AppointmentCreate")
    assert appointment is not None and appointment.app == "calendars"
    assert appointment.scope == "calendars/events.readonly" and not appointment.scope_documented
    assert curated.webhook_event("Nope") is None


@needs_webhook_docs
def test_webhook_events_cover_ghl_docs(curated: Curated) -> None:
    docs = {p.stem for p in WEBHOOK_DOCS.glob("*.md")}
    assert {e.doc for e in curated.webhook_events() if e.doc} == docs
    toc = json.loads(TOC.read_text(encoding="utf-8"))
    pages: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            uri = str(node.get("uri", ""))
            if uri.startswith("docs/webhook events/"):
                pages.append(Path(uri).stem)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(toc)
    assert len(pages) == len(curated.webhook_events())
    undocumented = set(pages) - docs
    assert undocumented == {"ExternalAuthConnected"}
    assert curated.webhook_event("ExternalAuthConnected") is not None
    for e in curated.webhook_events():
        if e.doc and e.type_documented:
            text = (WEBHOOK_DOCS / f"{e.doc}.md").read_text(encoding="utf-8")
            assert f'"type": "{e.type}"' in text, e.type


# --------------------------------------------------------------------------- polling candidates


def test_polling_candidates(catalog: Catalog, curated: Curated) -> None:
    candidates = polling_candidates(catalog)
    ids = {op.id for op in candidates}
    assert all(op.kind == "read" and op.is_list for op in candidates)
    assert ids == {op.id for op in catalog if op.is_list}
    assert "contacts.get_contacts" in ids
    assert "social_media_posting.get_tags_location_id" in ids  # Social Planner tags
    assert "opportunities.search_opportunity" in ids
    for get_by_id in (
        "contacts.get_contact",
        "contacts.get_task",
        "calendars.get_calendar",
        "calendars.find_event_notification",
        "calendars.get_calendar_resource",
        "opportunities.get_opportunity",
        "users.get_user",
        "conversations.get_message",
        "conversations.get_email_by_id",
        "businesses.get_business",
        "locations.get_location",
        "social_media_posting.get_post",
    ):
        assert get_by_id in catalog, get_by_id
        assert get_by_id not in ids, get_by_id
    assert not ids & {op.id for op in catalog if op.kind == "write"}
    for e in curated.triggers():
        if e.poll is not None:
            assert e.op_id in ids, e.name
    assert [op.id for op in candidates] == sorted(ids)


# --------------------------------------------------------------------------- defaults


def test_resolve_defaults(curated: Curated, catalog: Catalog) -> None:
    ctx = {"location_id": "loc1", "company_id": "co1"}
    users = curated.get("search_users")
    assert resolve_defaults(users, ctx) == {"locationId": "loc1", "companyId": "co1"}
    # A value the connection does not have is left out, not sent empty.
    assert resolve_defaults(users, {"company_id": "co1"}) == {"companyId": "co1"}
    assert resolve_defaults(users, {"company_id": "co1", "location_id": None}) == {
        "companyId": "co1"
    }
    assert resolve_defaults(curated.get("get_contact"), ctx) == {}
    op = catalog.get("contacts.get_contacts_by_business_id")
    params, body = split_params_body(
        op, resolve_defaults(curated.get("get_contacts_by_business"), ctx)
    )
    assert params == {"locationId": "loc1"} and body == {}
    op = catalog.get("contacts.create_contact")
    params, body = split_params_body(op, resolve_defaults(curated.get("create_contact"), ctx))
    assert params == {} and body == {"locationId": "loc1"}


def test_resolve_defaults_mixed_and_typed(catalog: Catalog) -> None:
    text = """
operations:
  - name: x
    title: X
    category: C
    kind: action
    op: contacts.create_contact
    description: d
    defaults:
      locationId: "{{ connection.location_id }}"
      source: "ghlbridge/{{connection.flow}}"
      dnd: true
"""
    entry = Curated.from_yaml(text, catalog).get("x")
    assert resolve_defaults(entry, {"location_id": 7, "flow": "f1"}) == {
        "locationId": 7,
        "source": "ghlbridge/f1",
        "dnd": True,
    }
    assert resolve_defaults(entry, {"location_id": "L"}) == {"locationId": "L", "dnd": True}


# --------------------------------------------------------------------------- validation errors

GOOD = """
operations:
  - name: get_contact
    title: Get Contact
    category: Contacts
    kind: trigger
    op: contacts.get_contact
    description: One contact.
    poll: null
  - name: list_contacts
    title: List Contacts
    category: Contacts
    kind: trigger
    op: contacts.get_contacts
    description: Contacts.
    defaults: { locationId: "{{ connection.location_id }}" }
    poll: { id_field: id, updated_field: null }
webhook_events:
  - { type: ContactCreate, name: contact_create, app: contacts, scope: contacts.readonly,
      scope_documented: true, type_documented: true, doc: ContactCreate }
"""


def test_minimal_file_loads(catalog: Catalog) -> None:
    cur = Curated.from_yaml(GOOD, catalog)
    assert [e.name for e in cur] == ["get_contact", "list_contacts"]
    assert cur.get("list_contacts").poll == PollHints("id", None)
    assert [e.type for e in cur.webhook_events()] == ["ContactCreate"]


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "op: contacts.get_contacts\n",
            "op: contacts.get_contactz\n",
            r"operations\[1\] \('list_contacts'\).*"
            r"unknown operation 'contacts.get_contactz'.*did you mean",
        ),
        (
            "name: list_contacts",
            "name: get_contact",
            r":10: operations\[1\] \('get_contact'\): duplicate name 'get_contact'",
        ),
        (
            "    description: Contacts.\n",
            "",
            r"operations\[1\] \('list_contacts'\): missing field 'description'",
        ),
        (
            "kind: trigger\n    op: contacts.get_contacts",
            "kind: lookup\n    op: contacts.get_contacts",
            r":13: operations\[1\].*kind 'lookup' must be 'trigger' or 'action'",
        ),
        (
            "{{ connection.location_id }}",
            "{{ connection.location_id | upper }}",
            r"only `\{\{ connection.<name> \}\}` placeholders",
        ),
        (
            "{{ connection.location_id }}",
            "{{ env.HOME }}",
            r"only `\{\{ connection.<name> \}\}` placeholders",
        ),
        ("{{ connection.location_id }}", "{% if x %}y{% endif %}", r"placeholders are allowed"),
        (
            "{ locationId:",
            "{ locationID:",
            r"'locationID', which is neither a parameter nor a body field of contacts.get_contacts",
        ),
        (
            "id_field: id,",
            "id_field: uid,",
            r"poll field 'uid' is not a field of contacts.get_contacts's items",
        ),
        (
            "    poll: null\n",
            "    poll: { id_field: id }\n",
            r"operations\[0\].*not a list operation",
        ),
        ("    poll: null\n", "", r"operations\[0\] \('get_contact'\): missing field 'poll'"),
        ("    poll: null\n", "    extra: 1\n    poll: null\n", r"unknown field\(s\) \['extra'\]"),
        (
            "app: contacts,",
            "app: nowhere,",
            r"webhook_events\[0\] \('ContactCreate'\): app 'nowhere'",
        ),
        ("scope_documented: true, ", "", r"webhook_events\[0\].*missing field 'scope_documented'"),
        ("name: get_contact\n", "name: Get-Contact\n", r"not snake_case"),
        ("operations:", "operation:", r"unknown top-level key"),
        ("    title: List Contacts\n", "    title: [List\n", r"invalid YAML"),
    ],
)
def test_validation_errors(catalog: Catalog, old: str, new: str, message: str) -> None:
    assert old in GOOD, old
    text = GOOD.replace(old, new, 1)
    with pytest.raises(CuratedError, match=message) as info:
        Curated.from_yaml(text, catalog, source="curated.yaml")
    assert str(info.value).startswith("curated.yaml")


def test_action_with_poll_is_rejected(catalog: Catalog) -> None:
    text = GOOD.replace(
        "kind: trigger\n    op: contacts.get_contacts",
        "kind: action\n    op: contacts.get_contacts",
    )
    with pytest.raises(CuratedError, match="poll hints are for triggers only"):
        Curated.from_yaml(text, catalog)


def test_duplicate_webhook_event(catalog: Catalog) -> None:
    extra = """  - { type: ContactCreate, name: contact_create_2, app: contacts, scope: null,
      scope_documented: false, type_documented: true, doc: null }
"""
    with pytest.raises(CuratedError, match="duplicate type 'ContactCreate'"):
        Curated.from_yaml(GOOD + extra, catalog)
