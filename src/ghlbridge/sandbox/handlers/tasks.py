"""A contact's tasks (``/contacts/{contactId}/tasks``: list, create, get, update, complete,
delete) and a location's task search (``POST /locations/{locationId}/tasks/search``).

`dueDate` is stored as GHL answers it (ISO 8601, UTC, milliseconds); one that does not parse
is a 422. The search filters by contacts, assignees, completion, text in the title or body and
the contacts' business, pages with skip/limit from the body, and adds the contact's and the
assignee's names as GHL's task list does. Tasks of deleted contacts are not searched.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ghlbridge.sandbox.errors import unprocessable
from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import CONTACTS, contact_of
from ghlbridge.sandbox.handlers.users import USERS
from ghlbridge.sandbox.paging import window
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, iso

TASKS = ResourceSpec("tasks")
_FIELDS = ("title", "body", "assignedTo", "dueDate", "completed")


def due_date(value: Any) -> str:
    """An ISO 8601 date-time as GHL stores it; 422 when it does not parse."""
    try:
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise unprocessable(["dueDate must be a valid ISO 8601 date string"]) from None
    return iso(int(parsed.timestamp() * 1000))


def _changes(call: Call) -> dict[str, Any]:
    out = {k: call.json[k] for k in _FIELDS if k in call.json}
    if "dueDate" in out:
        out["dueDate"] = due_date(out["dueDate"])
    return out


def _task(call: Call) -> tuple[LocationState, Record]:
    loc, contact = contact_of(call)
    task = loc.collection(TASKS).get(call.path_params["taskId"])
    if task is None or task["contactId"] != contact["id"]:
        raise call.not_found("Task not found")
    return loc, task


def list_tasks(call: Call) -> Reply:
    loc, contact = contact_of(call)
    return call.ok({"tasks": [t for t in loc.collection(TASKS) if t["contactId"] == contact["id"]]})


def create_task(call: Call) -> Reply:
    loc, contact = contact_of(call)
    task = loc.collection(TASKS).create({**_changes(call), "contactId": contact["id"]})
    return call.ok({"task": task})


def get_task(call: Call) -> Reply:
    return call.ok({"task": _task(call)[1]})


def update_task(call: Call) -> Reply:
    loc, task = _task(call)
    return call.ok({"task": loc.collection(TASKS).update(task["id"], _changes(call))})


def complete_task(call: Call) -> Reply:
    loc, task = _task(call)
    completed = bool(call.json["completed"])
    return call.ok({"task": loc.collection(TASKS).update(task["id"], {"completed": completed})})


def delete_task(call: Call) -> Reply:
    loc, task = _task(call)
    loc.collection(TASKS).delete(task["id"])
    return call.ok({"succeded": True})


def _names(record: Record | None) -> dict[str, Any] | None:
    if record is None:
        return None
    return {k: record.get(k) for k in ("id", "firstName", "lastName", "email")}


def search_tasks(call: Call) -> Reply:
    loc = call.location()
    body = call.json
    contacts = loc.collection(CONTACTS)
    contact_ids = set(body.get("contactId") or [])
    assignees = set(body.get("assignedTo") or [])
    text = str(body.get("query") or "").strip().lower()
    business = body.get("businessId")

    def wanted(task: Record) -> bool:
        contact = contacts.get(task["contactId"])
        return (
            contact is not None
            and (not contact_ids or task["contactId"] in contact_ids)
            and (not assignees or task.get("assignedTo") in assignees)
            and ("completed" not in body or task.get("completed") == body["completed"])
            and (not business or contact.get("businessId") == business)
            and (not text or any(text in str(task.get(f) or "").lower() for f in ("title", "body")))
        )

    tasks = loc.collection(TASKS)
    records = [t for t in tasks if wanted(t)]
    entries = tasks.entries(records)
    win = window(call.op, body, entries)
    by_id = {t["id"]: t for t in records}
    page = []
    for entry in entries[win.start : win.end]:
        task = by_id[entry.id]
        assignee = call.world.find(USERS, task["assignedTo"]) if task.get("assignedTo") else None
        page.append(
            {
                **task,
                "contactDetails": _names(contacts.get(task["contactId"])),
                "assignedToUserDetails": _names(assignee[1] if assignee else None),
            }
        )
    return call.ok({"tasks": page})


HANDLERS: dict[str, Handler] = {
    "contacts.get_all_tasks": list_tasks,
    "contacts.create_task": create_task,
    "contacts.get_task": get_task,
    "contacts.update_task": update_task,
    "contacts.update_task_completed": complete_task,
    "contacts.delete_task": delete_task,
    "locations.task_search": search_tasks,
}
