"""POST /contacts/search filters, sorts and pages real contacts (every match exactly once),
and bulk tag updates change many contacts at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox.handlers import HANDLERS, contact_search, contacts, custom_fields

BASE = "http://sandbox"
SEARCH = "contacts.search_contacts_advanced"


@pytest.fixture
async def sb() -> AsyncIterator[Sandbox]:
    handlers = {**HANDLERS, **contacts.HANDLERS, **custom_fields.HANDLERS}
    settings = SandboxSettings(seed=13, rate_limit=RateLimit(100_000, 10.0), demo_records=0)
    box = Sandbox(settings, handlers=handlers)
    yield box
    box.close()


@pytest.fixture
def client(sb: Sandbox) -> GHLClient:
    transport = ASGITransport(cast(Any, create_app(sandbox=sb)))
    return GHLClient(
        sb.location_token.value, transport=transport, base_url=BASE, location_id=sb.location_id
    )


PEOPLE = [
    ("Ada", "Lovelace", "ada@math.org", ["vip", "speaker"]),
    ("Alan", "Turing", "alan@math.org", ["speaker"]),
    ("Grace", "Hopper", "grace@navy.mil", ["vip"]),
    ("Linus", "Torvalds", None, []),
    ("Barbara", "Liskov", "barbara@mit.edu", ["speaker", "author"]),
    ("Edsger", "Dijkstra", "edsger@utexas.edu", []),
    ("Donald", "Knuth", "don@stanford.edu", ["author"]),
]


async def _people(client: GHLClient) -> dict[str, dict[str, Any]]:
    made = {}
    for first, last, email, tags in PEOPLE:
        body: dict[str, Any] = {"firstName": first, "lastName": last, "tags": tags}
        if email:
            body["email"] = email
        made[first] = (await client.call("contacts.create_contact", body=body))["contact"]
    return made


async def _search(client: GHLClient, **body: Any) -> list[str]:
    """First names of every match, walking all pages with the client's pager."""
    found = [c async for c in client.paginate(SEARCH, body=body, page_size=2)]
    return [c["firstName"] for c in found]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ([{"field": "tags", "operator": "eq", "value": "vip"}], ["Ada", "Grace"]),
        ([{"field": "tags", "operator": "eq", "value": ["vip", "author"]}],
         ["Ada", "Grace", "Barbara", "Donald"]),
        ([{"field": "tags", "operator": "not_eq", "value": "speaker"}],
         ["Grace", "Linus", "Edsger", "Donald"]),
        ([{"field": "email", "operator": "contains", "value": "MATH.org"}], ["Ada", "Alan"]),
        ([{"field": "email", "operator": "eq", "value": "Grace@Navy.mil"}], ["Grace"]),
        ([{"field": "email", "operator": "not_exists"}], ["Linus"]),
        ([{"field": "tags", "operator": "exists"}],
         ["Ada", "Alan", "Grace", "Barbara", "Donald"]),
        ([{"field": "firstName", "operator": "eq", "value": "ada"}], ["Ada"]),
        ([{"field": "lastNameLowerCase", "operator": "not_contains", "value": "t"}],
         ["Ada", "Grace", "Barbara"]),
        ([{"field": "tags", "operator": "eq", "value": "speaker"},
          {"group": "OR", "filters": [
              {"field": "firstName", "operator": "eq", "value": "Alan"},
              {"field": "email", "operator": "contains", "value": "mit.edu"}]}],
         ["Alan", "Barbara"]),
    ],
)  # fmt: skip
async def test_search_filters_select_exactly_the_matching_contacts(
    client: GHLClient, filters: list[dict[str, Any]], expected: list[str]
) -> None:
    await _people(client)
    assert await _search(client, filters=filters) == expected


async def test_date_added_range_selects_contacts_created_in_the_window(client: GHLClient) -> None:
    made = await _people(client)
    start, end = made["Alan"]["dateAdded"], made["Barbara"]["dateAdded"]
    window = {"field": "dateAdded", "operator": "range", "value": {"gte": start, "lt": end}}
    assert await _search(client, filters=[window]) == ["Alan", "Grace", "Linus"]
    from_ms = contact_search.epoch_ms(made["Edsger"]["dateAdded"])
    later = {"field": "dateAdded", "operator": "gte", "value": from_ms}
    assert await _search(client, filters=[later]) == ["Edsger", "Donald"]


async def test_search_pages_every_match_once_by_search_after_and_by_page(
    client: GHLClient,
) -> None:
    for i in range(23):
        await client.call(
            "contacts.create_contact",
            body={"email": f"p{i:02d}@example.com", "tags": ["even" if i % 2 == 0 else "odd"]},
        )
    even = [{"field": "tags", "operator": "eq", "value": "even"}]
    pager = client.pager(SEARCH, body={"filters": even}, page_size=5)
    emails = [c["email"] async for c in pager.items()]
    assert emails == [f"p{i:02d}@example.com" for i in range(0, 23, 2)]
    assert pager.pages_fetched == 3
    third = await client.call(SEARCH, body={"filters": even, "pageLimit": 5, "page": 3})
    assert third["total"] == 12
    assert [c["email"] for c in third["contacts"]] == emails[10:]


async def test_sort_orders_results_and_search_after_follows_the_sort(client: GHLClient) -> None:
    await _people(client)
    sort = [{"field": "lastName", "direction": "desc"}]
    names = await _search(client, sort=sort)
    assert names == ["Alan", "Linus", "Ada", "Barbara", "Donald", "Grace", "Edsger"]
    first = await client.call(SEARCH, body={"sort": sort, "pageLimit": 4})
    marker = first["contacts"][-1]["searchAfter"]
    assert marker[0] == "liskov" and marker[-1] == first["contacts"][-1]["id"]
    rest = await client.call(SEARCH, body={"sort": sort, "pageLimit": 10, "searchAfter": marker})
    assert [c["firstName"] for c in rest["contacts"]] == names[4:]
    assert rest["total"] == 7


async def test_query_text_and_filters_combine(client: GHLClient) -> None:
    await _people(client)
    vip = [{"field": "tags", "operator": "eq", "value": "vip"}]
    assert await _search(client, query="hopper", filters=vip) == ["Grace"]
    assert await _search(client, query="lovelace", filters=vip) == ["Ada"]
    assert await _search(client, query="turing", filters=vip) == []


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        ({"filters": [{"field": "email", "operator": "like", "value": "x"}]},
         "filters.0.operator must be one of the following values"),
        ({"filters": [{"field": "email", "operator": "eq"}]},
         "filters.0.value should not be empty"),
        ({"filters": [{"field": "dateAdded", "operator": "range", "value": 5}]},
         "filters.0.value must be an object with gt, gte, lt or lte"),
        ({"filters": [{"group": "XOR", "filters": []}]}, "filters.0.group must be one of"),
        ({"sort": [{"field": "email", "direction": "up"}]}, "sort.0.direction must be one of"),
        ({"pageLimit": 501}, "pageLimit must be between 1 and 500"),
    ],
)  # fmt: skip
async def test_malformed_search_answers_422_naming_the_problem(
    client: GHLClient, body: dict[str, Any], problem: str
) -> None:
    with pytest.raises(BadRequestError) as caught:
        await client.call(SEARCH, body=body)
    assert caught.value.status == 422 and problem in caught.value.message


async def test_page_numbers_stop_at_ten_thousand_results(client: GHLClient) -> None:
    with pytest.raises(BadRequestError, match="page further with searchAfter"):
        await client.call(SEARCH, body={"pageLimit": 500, "page": 21})


async def test_bulk_tag_update_adds_and_removes_on_many_contacts(client: GHLClient) -> None:
    made = await _people(client)
    ids = [made[n]["id"] for n in ("Ada", "Linus", "Donald")]
    added = await client.call(
        "contacts.create_association",
        {"type": "add"},
        {"contacts": [*ids, "missing-contact"], "tags": ["Beta", "vip"]},
    )
    assert added["errorCount"] == 1 and added["succeded"] is False
    assert added["responses"] == ["missing-contact: Contact not found"]
    tags = {n: (await client.call("contacts.get_contact", {"contactId": made[n]["id"]}))[
        "contact"]["tags"] for n in ("Ada", "Linus", "Donald")}  # fmt: skip
    assert tags == {
        "Ada": ["vip", "speaker", "beta"],
        "Linus": ["beta", "vip"],
        "Donald": ["author", "beta", "vip"],
    }
    removed = await client.call(
        "contacts.create_association", {"type": "remove"}, {"contacts": ids, "tags": ["VIP"]}
    )
    assert removed == {"succeded": True, "errorCount": 0, "responses": []}
    assert await _search(client, filters=[{"field": "tags", "operator": "eq", "value": "vip"}]) == [
        "Grace"
    ]
    cleared = await client.call(
        "contacts.create_association",
        {"type": "remove"},
        {"contacts": [ids[0]], "tags": [], "removeAllTags": True},
    )
    assert cleared["succeded"] is True
    got = await client.call("contacts.get_contact", {"contactId": ids[0]})
    assert got["contact"]["tags"] == []
    with pytest.raises(BadRequestError, match="type must be one of"):
        await client.call(
            "contacts.create_association", {"type": "swap"}, {"contacts": ids, "tags": ["x"]}
        )


async def test_custom_field_values_filter_by_key_or_id(client: GHLClient) -> None:
    field = (
        await client.call(
            "locations.create_custom_field", body={"name": "Lead Score", "dataType": "NUMERICAL"}
        )
    )["customField"]
    for name, score in (("Low", "7"), ("Mid", "42"), ("High", "90"), ("None", None)):
        body: dict[str, Any] = {"firstName": name}
        if score is not None:
            body["customFields"] = [{"id": field["id"], "field_value": score}]
        await client.call("contacts.create_contact", body=body)
    by_key = {"field": "customFields.lead_score", "operator": "range", "value": {"gte": 40}}
    assert await _search(client, filters=[by_key]) == ["Mid", "High"]
    by_id = {"field": f"customFields.{field['id']}", "operator": "eq", "value": 7}
    assert await _search(client, filters=[by_id]) == ["Low"]
    missing = {"field": "customFields.contact.lead_score", "operator": "not_exists"}
    assert await _search(client, filters=[missing]) == ["None"]
    ranked = await _search(client, sort=[{"field": "customFields.lead_score", "direction": "desc"}])
    assert ranked == ["High", "Mid", "Low", "None"]
