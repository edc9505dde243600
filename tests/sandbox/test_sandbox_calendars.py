"""Calendars are real state: calendars and groups, appointments and block slots in epoch-ms
windows, free slots computed from open hours minus bookings and blocks, and notes,
notifications and resources that read back what was written."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, tzinfo
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.client import ASGITransport, BadRequestError, GHLClient
from ghlbridge.sandbox import Change, RateLimit, Sandbox, SandboxSettings, create_app
from ghlbridge.sandbox import core as sandbox_core
from ghlbridge.sandbox.handlers import (
    HANDLERS,
    SEEDERS,
    appointment_notes,
    appointments,
    calendar_notifications,
    calendar_resources,
    calendars,
    free_slots,
)
from ghlbridge.sandbox.handlers.calendar_model import location_zone
from tests.sandbox.harness import BASE, Harness

NOW = datetime(2030, 1, 6, 12, tzinfo=UTC)  # a Sunday; Monday 7 January is the next workday
MINE = {
    **calendars.HANDLERS,
    **appointments.HANDLERS,
    **free_slots.HANDLERS,
    **appointment_notes.HANDLERS,
    **calendar_notifications.HANDLERS,
    **calendar_resources.HANDLERS,
}
WEEKDAY_MORNINGS = [
    {
        "daysOfTheWeek": [1, 2, 3, 4, 5],
        "hours": [{"openHour": 9, "openMinute": 0, "closeHour": 12, "closeMinute": 0}],
    }
]


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).timestamp() * 1000)


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
        self.zone = location_zone(sandbox.location())

    def at(self, wall: str) -> str:
        """A wall-clock time of the location (``2030-01-07 09:00``) as GHL writes it."""
        return datetime.fromisoformat(wall).replace(tzinfo=self.zone).isoformat(timespec="seconds")

    def local(self, stamp: str, zone: tzinfo | None = None) -> datetime:
        return datetime.fromisoformat(stamp).astimezone(zone or self.zone)


@pytest.fixture
def build(monkeypatch: pytest.MonkeyPatch) -> Callable[..., _Harness]:
    """Sandboxes at a fixed time serving the calendar handlers and seeders."""
    seeders = (*SEEDERS, *(s for s in calendars.SEEDERS if s not in SEEDERS))
    monkeypatch.setattr(sandbox_core, "SEEDERS", seeders)

    def make(**settings: Any) -> _Harness:
        settings.setdefault("seed", 9)
        settings.setdefault("rate_limit", RateLimit(100_000, 10.0))
        sandbox = Sandbox(
            SandboxSettings(**settings),
            handlers={**HANDLERS, **MINE},
            clock=NOW.timestamp,
        )
        return _Harness(sandbox)

    return make


@pytest.fixture
def h(build: Callable[..., _Harness]) -> _Harness:
    return build(demo_records=0)


async def _calendar(h: _Harness, **fields: Any) -> dict[str, Any]:
    body = {"name": "Intro", "openHours": WEEKDAY_MORNINGS, **fields}
    return cast(
        dict[str, Any], (await h.client.call("calendars.create_calendar", body=body))["calendar"]
    )


async def _contact(h: _Harness, name: str = "Ada") -> str:
    body = await h.client.call("contacts.create_contact", body={"firstName": name})
    return str(body["contact"]["id"])


async def _book(h: _Harness, calendar_id: str, start: str, **fields: Any) -> dict[str, Any]:
    if "contactId" not in fields:
        fields["contactId"] = await _contact(h)
    body = {"calendarId": calendar_id, "startTime": start, **fields}
    return cast(dict[str, Any], await h.client.call("calendars.create_appointment", body=body))


async def _slots(h: _Harness, calendar_id: str, start: str, end: str, **params: Any) -> Any:
    query = {"calendarId": calendar_id, "startDate": ms(start), "endDate": ms(end), **params}
    return await h.client.call("calendars.get_slots", query)


# -- calendars and groups -----------------------------------------------------------------
async def test_calendar_crud_with_ghl_defaults(h: _Harness) -> None:
    created = await _calendar(h, description="first")
    assert created["locationId"] == h.sb.location_id and created["calendarType"] == "event"
    assert created["slotDuration"] == 30 and created["autoConfirm"] is True
    assert created["slug"] == "intro" and created["isActive"] is True
    cid = created["id"]
    got = await h.client.call("calendars.get_calendar", {"calendarId": cid})
    assert got == {"calendar": created}
    draft = await _calendar(h, name="Draft", isActive=False)
    listed = await h.client.call("calendars.get_calendars")
    assert [c["id"] for c in listed["calendars"]] == [cid, draft["id"]]
    live = await h.client.call("calendars.get_calendars", {"showDrafted": False})
    assert [c["id"] for c in live["calendars"]] == [cid]
    updated = await h.client.call(
        "calendars.update_calendar", {"calendarId": cid}, {"name": "Intro 2", "slotDuration": 15}
    )
    assert updated["calendar"]["name"] == "Intro 2" and updated["calendar"]["slotDuration"] == 15
    assert await h.client.call("calendars.delete_calendar", {"calendarId": cid}) == {
        "success": True
    }
    gone = await h.call("calendars.get_calendar", {"calendarId": cid})
    assert gone.status == 400 and gone.json()["message"] == "Calendar not found"


async def test_calendar_rules_answer_400_and_422(h: _Harness) -> None:
    backwards = [
        {
            "daysOfTheWeek": [1],
            "hours": [{"openHour": 12, "openMinute": 0, "closeHour": 9, "closeMinute": 0}],
        }
    ]
    with pytest.raises(BadRequestError) as err:
        await _calendar(h, openHours=backwards)
    assert err.value.status == 422 and "must close after it opens" in err.value.message
    with pytest.raises(BadRequestError) as err:
        await _calendar(h, calendarType="personal")
    assert err.value.status == 400 and "exactly one team member" in err.value.message
    with pytest.raises(BadRequestError) as err:
        await _calendar(h, groupId="nopenopenopenopenope")
    assert err.value.message == "Group not found"


async def test_groups_validate_slugs_toggle_status_and_release_their_calendars(
    h: _Harness,
) -> None:
    group = (
        await h.client.call(
            "calendars.create_calendar_group",
            body={"name": "Sales", "description": "team", "slug": "sales-team"},
        )
    )["group"]
    assert group["isActive"] is True and group["slug"] == "sales-team"
    assert (await h.client.call("calendars.validate_groups_slug", body={"slug": "sales-team"})) == {
        "available": False
    }
    assert (await h.client.call("calendars.validate_groups_slug", body={"slug": "other"}))[
        "available"
    ] is True
    assert (await h.client.call("calendars.validate_groups_slug", body={"slug": "Bad Slug"}))[
        "available"
    ] is False
    with pytest.raises(BadRequestError) as err:
        await h.client.call(
            "calendars.create_calendar_group",
            body={"name": "Dup", "description": "d", "slug": "sales-team"},
        )
    assert err.value.status == 400
    with pytest.raises(BadRequestError) as err:
        await h.client.call(
            "calendars.create_calendar_group",
            body={"name": "Bad", "description": "d", "slug": "Not_OK"},
        )
    assert err.value.status == 422
    gid = group["id"]
    status = await h.client.call("calendars.disable_group", {"groupId": gid}, {"isActive": False})
    assert status == {"success": True}
    edited = await h.client.call(
        "calendars.edit_group",
        {"groupId": gid},
        {"name": "Sales EU", "description": "eu", "slug": "sales-eu"},
    )
    assert edited["group"]["isActive"] is False and edited["group"]["slug"] == "sales-eu"
    calendar = await _calendar(h, groupId=gid)
    in_group = await h.client.call("calendars.get_calendars", {"groupId": gid})
    assert [c["id"] for c in in_group["calendars"]] == [calendar["id"]]
    assert await h.client.call("calendars.delete_group", {"groupId": gid}) == {"success": True}
    assert (await h.client.call("calendars.get_groups"))["groups"] == []
    after = await h.client.call("calendars.get_calendar", {"calendarId": calendar["id"]})
    assert after["calendar"]["groupId"] is None


# -- free slots ---------------------------------------------------------------------------
async def test_free_slots_follow_open_hours_minus_bookings_and_blocks(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    await _book(h, cid, h.at("2030-01-08 10:00:00"))
    await h.client.call(
        "calendars.create_block_slot",
        body={
            "calendarId": cid,
            "startTime": h.at("2030-01-08 11:00:00"),
            "endTime": h.at("2030-01-08 12:00:00"),
        },
    )
    slots = await _slots(h, cid, h.at("2030-01-05 00:00:00"), h.at("2030-01-08 23:59:59"))
    assert isinstance(slots.pop("traceId"), str)
    assert slots == {
        "2030-01-07": {
            "slots": [
                h.at(f"2030-01-07 {t}")
                for t in ("09:00", "09:30", "10:00", "10:30", "11:00", "11:30")
            ]
        },
        "2030-01-08": {
            "slots": [
                h.at("2030-01-08 09:00:00"),
                h.at("2030-01-08 09:30:00"),
                h.at("2030-01-08 10:30:00"),
            ]
        },
    }


async def test_free_slots_render_in_the_asked_time_zone_and_skip_the_past(
    build: Callable[..., _Harness],
) -> None:
    h = build(demo_records=0)
    cid = (await _calendar(h))["id"]
    slots = await _slots(
        h,
        cid,
        h.at("2030-01-07 00:00:00"),
        h.at("2030-01-07 23:59:59"),
        timezone="Asia/Tokyo",
    )
    first = h.local(h.at("2030-01-07 09:00"), ZoneInfo("Asia/Tokyo"))
    assert first.utcoffset() is not None and first.utcoffset().total_seconds() == 9 * 3600
    key = first.date().isoformat()
    assert slots[key]["slots"][0] == first.isoformat(timespec="seconds")
    past = await _slots(h, cid, h.at("2029-12-31 00:00:00"), h.at("2030-01-04 23:59:59"))
    assert set(past) == {"traceId"}
    too_long = await h.call(
        "calendars.get_slots",
        {
            "calendarId": cid,
            "startDate": ms(h.at("2030-01-01 00:00:00")),
            "endDate": ms(h.at("2030-03-01 00:00:00")),
        },
    )
    assert too_long.status == 400 and "31 days" in too_long.json()["message"]


async def test_cancelling_an_appointment_frees_its_slot(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    booked = await _book(h, cid, h.at("2030-01-07 09:00:00"))
    assert booked["appointmentStatus"] == "confirmed" and booked["endTime"] == h.at(
        "2030-01-07 09:30:00"
    )
    day = (h.at("2030-01-07 00:00:00"), h.at("2030-01-07 23:59:59"))
    assert h.at("2030-01-07 09:00:00") not in (await _slots(h, cid, *day))["2030-01-07"]["slots"]
    await h.client.call(
        "calendars.edit_appointment", {"eventId": booked["id"]}, {"appointmentStatus": "cancelled"}
    )
    assert h.at("2030-01-07 09:00:00") in (await _slots(h, cid, *day))["2030-01-07"]["slots"]


# -- appointments -------------------------------------------------------------------------
_TAKEN = "The slot you have selected is no longer available."


@pytest.mark.parametrize(
    ("start", "extra", "status", "message"),
    [
        ("2030-01-07 10:00", {}, 400, _TAKEN),  # booked
        ("2030-01-07 14:00", {}, 400, _TAKEN),  # closed
        ("2030-01-05 10:00", {}, 400, _TAKEN),  # past (and a Saturday)
        ("tomorrow at ten", {}, 422, "startTime must be a valid ISO 8601 date string"),
        ("2030-01-07 11:00", {"endTime": "2030-01-07 10:00"}, 400, "endTime must be after"),
        ("2030-01-07 11:00", {"calendarId": "nopenopenopenopenope"}, 400, "Calendar not found"),
        ("2030-01-07 11:00", {"contactId": "nopenopenopenopenope"}, 400, "Contact not found"),
    ],
)
async def test_booking_refuses_taken_closed_past_and_malformed_times(
    h: _Harness, start: str, extra: dict[str, Any], status: int, message: str
) -> None:
    cid = (await _calendar(h))["id"]
    await _book(h, cid, h.at("2030-01-07 10:00"))
    if start.startswith("2030"):
        start = h.at(start)
    if "endTime" in extra:
        extra["endTime"] = h.at(extra["endTime"])
    with pytest.raises(BadRequestError) as err:
        await _book(h, extra.pop("calendarId", cid), start, **extra)
    assert err.value.status == status and message in err.value.message


async def test_booking_outside_free_slots_passes_with_ignore_free_slot_validation(
    h: _Harness,
) -> None:
    cid = (await _calendar(h))["id"]
    event = await _book(
        h,
        cid,
        "2030-01-07T19:00:00+02:00",
        endTime="2030-01-07T19:45:00+02:00",
        ignoreFreeSlotValidation=True,
        title="Late",
        assignedUserId="user-1",
    )
    assert event["startTime"] == h.local("2030-01-07T17:00:00+00:00").isoformat(timespec="seconds")
    assert event["title"] == "Late"
    got = (await h.client.call("calendars.get_appointment", {"eventId": event["id"]}))["event"]
    assert got["assignedUserId"] == "user-1" and got["users"] == ["user-1"]
    assert got["dateAdded"] and got["locationId"] == h.sb.location_id


async def test_appointment_changes_carry_the_fields_contacts_and_webhooks_read(
    h: _Harness,
) -> None:
    changes: list[Change] = []
    h.sb.world.subscribe(changes.append)
    cid = (await _calendar(h))["id"]
    event = await _book(h, cid, h.at("2030-01-07 09:00:00"))
    await h.client.call(
        "calendars.edit_appointment",
        {"eventId": event["id"]},
        {"startTime": h.at("2030-01-07 11:00:00")},
    )
    deleted = await h.client.call("calendars.delete_event", {"eventId": event["id"]}, {})
    assert deleted == {"succeeded": True}
    mine = [c for c in changes if c.resource == "appointments"]
    assert [c.action for c in mine] == ["create", "update", "delete"]
    for field in ("calendarId", "contactId", "startTime", "endTime", "appointmentStatus"):
        assert field in mine[0].record
    assert mine[1].previous is not None and mine[1].previous["startTime"] == h.at(
        "2030-01-07 09:00:00"
    )
    assert mine[1].record["endTime"] == h.at("2030-01-07 11:30:00")
    gone = await h.call("calendars.get_appointment", {"eventId": event["id"]})
    assert gone.status == 400


async def test_events_list_the_window_by_calendar_group_or_user(h: _Harness) -> None:
    group = (
        await h.client.call(
            "calendars.create_calendar_group",
            body={"name": "G", "description": "g", "slug": "g"},
        )
    )["group"]
    first = (await _calendar(h, groupId=group["id"]))["id"]
    second = (await _calendar(h, name="Other"))["id"]
    monday = await _book(h, first, h.at("2030-01-07 09:00:00"), assignedUserId="u1")
    tuesday = await _book(h, first, h.at("2030-01-08 09:00:00"))
    wednesday = await _book(h, second, h.at("2030-01-09 09:00:00"), assignedUserId="u1")

    async def ids(start: str, end: str, **params: Any) -> list[str]:
        query = {"startTime": str(ms(start)), "endTime": str(ms(end)), **params}
        return [
            e["id"] for e in (await h.client.call("calendars.get_calendar_events", query))["events"]
        ]

    week = (h.at("2030-01-07 00:00:00"), h.at("2030-01-12 00:00:00"))
    assert await ids(*week, calendarId=first) == [monday["id"], tuesday["id"]]
    assert await ids(*week, groupId=group["id"]) == [monday["id"], tuesday["id"]]
    assert await ids(*week, userId="u1") == [monday["id"], wednesday["id"]]
    assert await ids(
        h.at("2030-01-08 00:00:00"), h.at("2030-01-08 23:59:59"), calendarId=first
    ) == [tuesday["id"]]
    assert await ids(
        h.at("2030-01-07 09:15:00"), h.at("2030-01-07 09:20:00"), calendarId=first
    ) == [monday["id"]]
    unnamed = await h.call(
        "calendars.get_calendar_events",
        {"locationId": h.sb.location_id, "startTime": "1", "endTime": "2"},
    )
    assert unnamed.status == 422
    assert unnamed.json()["message"] == ["Either of calendarId, userId or groupId is required"]
    malformed = await h.call(
        "calendars.get_calendar_events",
        {
            "locationId": h.sb.location_id,
            "calendarId": first,
            "startTime": "monday",
            "endTime": "2",
        },
    )
    assert malformed.status == 422


async def test_block_slots_are_created_edited_listed_and_deleted(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    block = await h.client.call(
        "calendars.create_block_slot",
        body={
            "calendarId": cid,
            "title": "Lunch",
            "startTime": h.at("2030-01-07 12:00:00"),
            "endTime": h.at("2030-01-07 13:00:00"),
        },
    )
    assert block["title"] == "Lunch" and block["startTime"] == h.at("2030-01-07 12:00:00")
    edited = await h.client.call(
        "calendars.edit_block_slot",
        {"eventId": block["id"]},
        {"calendarId": cid, "endTime": h.at("2030-01-07 14:00:00")},
    )
    assert edited["endTime"] == h.at("2030-01-07 14:00:00") and edited["title"] == "Lunch"
    window = {
        "calendarId": cid,
        "startTime": str(ms(h.at("2030-01-07 00:00:00"))),
        "endTime": str(ms(h.at("2030-01-08 00:00:00"))),
    }
    listed = await h.client.call("calendars.get_blocked_slots", window)
    assert [b["id"] for b in listed["events"]] == [block["id"]]
    assert (await h.client.call("calendars.get_calendar_events", window))["events"] == []
    with pytest.raises(BadRequestError) as err:
        await h.client.call(
            "calendars.create_block_slot",
            body={
                "calendarId": cid,
                "assignedUserId": "u1",
                "startTime": h.at("2030-01-07 12:00:00"),
                "endTime": h.at("2030-01-07 11:00:00"),
            },
        )
    assert "not both" in err.value.message
    await h.client.call("calendars.delete_event", {"eventId": block["id"]}, {})
    assert (await h.client.call("calendars.get_blocked_slots", window))["events"] == []


# -- notes, notifications, resources ------------------------------------------------------
async def test_appointment_notes_crud_and_offset_paging(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    event = await _book(h, cid, h.at("2030-01-07 09:00:00"))
    path = {"appointmentId": event["id"]}
    notes = [
        (
            await h.client.call(
                "calendars.create_appointment_note", path, {"body": f"n{i}", "userId": "u1"}
            )
        )["note"]
        for i in range(3)
    ]
    assert notes[0]["contactId"] == event["contactId"] and notes[0]["createdBy"] == {"id": "u1"}
    first = await h.client.call(
        "calendars.get_appointment_notes", {**path, "limit": 2, "offset": 0}
    )
    assert [n["body"] for n in first["notes"]] == ["n0", "n1"] and first["hasMore"] is True
    rest = await h.client.call("calendars.get_appointment_notes", {**path, "limit": 2, "offset": 2})
    assert [n["body"] for n in rest["notes"]] == ["n2"] and rest["hasMore"] is False
    note_path = {**path, "noteId": notes[1]["id"]}
    updated = await h.client.call(
        "calendars.update_appointment_note", note_path, {"body": "edited"}
    )
    assert updated["note"]["body"] == "edited"
    assert await h.client.call("calendars.delete_appointment_note", note_path) == {"success": True}
    left = await h.client.call(
        "calendars.get_appointment_notes", {**path, "limit": 20, "offset": 0}
    )
    assert [n["body"] for n in left["notes"]] == ["n0", "n2"]
    too_many = await h.call("calendars.get_appointment_notes", {**path, "limit": 50, "offset": 0})
    assert too_many.status == 422


async def test_calendar_notifications_crud_with_soft_delete(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    created = await h.client.call(
        "calendars.create_event_notification",
        {"calendarId": cid},
        [
            {"receiverType": "contact", "channel": "email", "notificationType": "booked"},
            {"receiverType": "assignedUser", "channel": "sms", "notificationType": "reminder"},
        ],
    )
    assert [n["channel"] for n in created] == ["email", "sms"]
    assert all(n["isActive"] is True and n["deleted"] is False for n in created)
    first = created[0]["_id"]
    path = {"calendarId": cid, "notificationId": first}
    assert (await h.client.call("calendars.find_event_notification", path))["_id"] == first
    updated = await h.client.call(
        "calendars.update_event_notification", path, {"isActive": False, "subject": "Booked!"}
    )
    assert isinstance(updated["message"], str)
    inactive = await h.client.call(
        "calendars.get_event_notification", {"calendarId": cid, "isActive": False}
    )
    assert [(n["_id"], n["subject"]) for n in inactive] == [(first, "Booked!")]
    await h.client.call("calendars.delete_event_notification", path)
    live = await h.client.call("calendars.get_event_notification", {"calendarId": cid})
    assert [n["_id"] for n in live] == [created[1]["_id"]]
    deleted = await h.client.call(
        "calendars.get_event_notification", {"calendarId": cid, "deleted": True}
    )
    assert [n["_id"] for n in deleted] == [first]


async def test_calendar_resources_crud_per_resource_type(h: _Harness) -> None:
    cid = (await _calendar(h))["id"]
    body = {
        "name": "Yoga room",
        "description": "second floor",
        "quantity": 2,
        "outOfService": 0,
        "capacity": 12,
        "calendarIds": [cid],
    }
    room = await h.client.call(
        "calendars.create_calendar_resource", {"resourceType": "rooms"}, body
    )
    assert room["resourceType"] == "rooms" and room["isActive"] is True and room["id"]
    path = {"resourceType": "rooms", "id": room["id"]}
    assert await h.client.call("calendars.get_calendar_resource", path) == room
    rooms = await h.client.call(
        "calendars.fetch_calendar_resources", {"resourceType": "rooms", "limit": 10, "skip": 0}
    )
    assert [r["id"] for r in rooms] == [room["id"]]
    equipments = await h.client.call(
        "calendars.fetch_calendar_resources", {"resourceType": "equipments", "limit": 10, "skip": 0}
    )
    assert equipments == []
    wrong_type = await h.call(
        "calendars.get_calendar_resource", {"resourceType": "equipments", "id": room["id"]}
    )
    assert wrong_type.status == 400
    updated = await h.client.call("calendars.update_calendar_resource", path, {"capacity": 20})
    assert updated["capacity"] == 20 and updated["name"] == "Yoga room"
    with pytest.raises(BadRequestError):
        await h.client.call("calendars.update_calendar_resource", path, {"outOfService": 3})
    with pytest.raises(BadRequestError):
        await h.client.call(
            "calendars.create_calendar_resource",
            {"resourceType": "equipments"},
            {**body, "calendarIds": ["nopenopenopenopenope"]},
        )
    assert await h.client.call("calendars.delete_calendar_resource", path) == {"success": True}
    assert (await h.call("calendars.get_calendar_resource", path)).status == 400


# -- demo data ----------------------------------------------------------------------------
async def test_seeded_locations_have_two_calendars_with_booked_appointments(
    build: Callable[..., _Harness],
) -> None:
    h = build(demo_records=3)
    seeded = (await h.client.call("calendars.get_calendars"))["calendars"]
    assert [c["name"] for c in seeded] == ["Discovery Call", "Consultation"]
    assert all(c["openHours"] for c in seeded)
    window = {
        "startTime": str(ms(h.at("2030-01-06 00:00:00"))),
        "endTime": str(ms(h.at("2030-01-13 00:00:00"))),
    }
    events = []
    for calendar in seeded:
        found = await h.client.call(
            "calendars.get_calendar_events", {**window, "calendarId": calendar["id"]}
        )
        events.extend(found["events"])
    assert sorted(e["startTime"] for e in events) == [
        h.at("2030-01-07 10:00:00"),
        h.at("2030-01-08 10:00:00"),
        h.at("2030-01-09 10:00:00"),
    ]
    discovery = seeded[0]["id"]
    slots = await _slots(h, discovery, h.at("2030-01-07 00:00:00"), h.at("2030-01-07 23:59:59"))
    assert h.at("2030-01-07 10:00:00") not in slots["2030-01-07"]["slots"]
    assert h.at("2030-01-07 09:30:00") in slots["2030-01-07"]["slots"]
    assert len(build(demo_records=0).sb.location().collection(calendars.CALENDARS)) == 0
