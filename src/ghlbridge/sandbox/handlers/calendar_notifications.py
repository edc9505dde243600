"""Calendar notifications: ``/calendars/{calendarId}/notifications``.

A create takes a list and answers the created list. A delete is soft, as the `deleted`
field and filter suggest: the notification stays readable with ``deleted: true`` and lists
leave it out unless asked for ``deleted=true``.
"""

from __future__ import annotations

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.calendar_model import CALENDAR_NOTIFICATIONS, CALENDARS
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record

_FIELDS = (
    "receiverType",
    "channel",
    "notificationType",
    "isActive",
    "templateId",
    "body",
    "subject",
    "afterTime",
    "beforeTime",
    "additionalEmailIds",
    "additionalPhoneNumbers",
    "selectedUsers",
    "fromAddress",
    "fromName",
    "fromNumber",
    "deleted",
)


def _calendar(call: Call) -> tuple[LocationState, Record]:
    return call.find(CALENDARS, call.path_params["calendarId"], "Calendar not found")


def _notification(call: Call) -> tuple[LocationState, Record]:
    loc, calendar = _calendar(call)
    found = loc.collection(CALENDAR_NOTIFICATIONS).get(call.path_params["notificationId"])
    if found is None or found.get("calendarId") != calendar["id"]:
        raise call.not_found("Notification not found")
    return loc, found


def create_notifications(call: Call) -> Reply:
    loc, calendar = _calendar(call)
    items = call.body if isinstance(call.body, list) else []
    created = [
        loc.collection(CALENDAR_NOTIFICATIONS).create(
            {
                "calendarId": calendar["id"],
                "isActive": True,
                "deleted": False,
                **{k: item[k] for k in _FIELDS if k in item and k != "deleted"},
            }
        )
        for item in items
    ]
    return call.ok(created)


def list_notifications(call: Call) -> Reply:
    loc, calendar = _calendar(call)
    notifications = loc.collection(CALENDAR_NOTIFICATIONS)
    active, deleted = call.query.get("isActive"), bool(call.query.get("deleted", False))
    records = [
        n
        for n in notifications
        if n["calendarId"] == calendar["id"]
        and n["deleted"] == deleted
        and (active is None or n["isActive"] == active)
    ]
    entries = notifications.entries(records)
    win = window(call.op, call.query, entries)
    by_id = {r["_id"]: r for r in records}
    return call.ok([by_id[e.id] for e in entries[win.start : win.end]])


def find_notification(call: Call) -> Reply:
    return call.ok(_notification(call)[1])


def update_notification(call: Call) -> Reply:
    loc, found = _notification(call)
    fields = {k: call.json[k] for k in _FIELDS if k in call.json}
    loc.collection(CALENDAR_NOTIFICATIONS).update(found["_id"], fields)
    return call.ok({"message": "Notification updated successfully"})


def delete_notification(call: Call) -> Reply:
    loc, found = _notification(call)
    loc.collection(CALENDAR_NOTIFICATIONS).update(found["_id"], {"deleted": True})
    return call.ok({"message": "Notification deleted successfully"})


HANDLERS: dict[str, Handler] = {
    "calendars.create_event_notification": create_notifications,
    "calendars.get_event_notification": list_notifications,
    "calendars.find_event_notification": find_notification,
    "calendars.update_event_notification": update_notification,
    "calendars.delete_event_notification": delete_notification,
}
