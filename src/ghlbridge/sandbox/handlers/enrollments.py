"""A contact's campaign and workflow enrolment: ``/contacts/{contactId}/campaigns/...`` and
``/contacts/{contactId}/workflow/{workflowId}``.

Each enrolment is a record (`campaignEnrollments`, `workflowEnrollments`) so its creation and
removal are announced; `contact_campaigns` and `contact_workflows` say what a contact is in.
Enrolling twice keeps one enrolment; removing one that does not exist succeeds, as in GHL.
A campaign or workflow must be one of the location's (the `campaigns` and `workflows`
collections their own modules keep), when those modules hold the location's list.
"""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.handlers.contacts import contact_of, records_named
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec

CAMPAIGN_ENROLLMENTS = ResourceSpec("campaignEnrollments")
WORKFLOW_ENROLLMENTS = ResourceSpec("workflowEnrollments")
_DONE = {"succeded": True}
_TARGETS = {
    "campaignId": ("campaigns", "Campaign not found"),
    "workflowId": ("workflows", "Workflow not found"),
}


def _enrollments(loc: LocationState, spec: ResourceSpec, contact_id: str) -> list[Record]:
    return [r for r in loc.collection(spec) if r["contactId"] == contact_id]


def contact_campaigns(loc: LocationState, contact_id: str) -> list[str]:
    """The campaign ids the contact is enrolled in, in enrolment order."""
    return [r["campaignId"] for r in _enrollments(loc, CAMPAIGN_ENROLLMENTS, contact_id)]


def contact_workflows(loc: LocationState, contact_id: str) -> list[str]:
    """The workflow ids the contact is enrolled in, in enrolment order."""
    return [r["workflowId"] for r in _enrollments(loc, WORKFLOW_ENROLLMENTS, contact_id)]


def _enroll(call: Call, spec: ResourceSpec, key: str, extra: dict[str, Any]) -> Reply:
    loc, contact = contact_of(call)
    target = call.path_params[key]
    resource, missing = _TARGETS[key]
    known = records_named(loc, resource)
    if known is not None and not any(target in (r.get("id"), r.get("_id")) for r in known):
        raise call.not_found(missing)
    if not any(r[key] == target for r in _enrollments(loc, spec, contact["id"])):
        fields = {"contactId": contact["id"], key: target, "status": "active", **extra}
        loc.collection(spec).create(fields)
    return call.ok(_DONE)


def _unenroll(call: Call, spec: ResourceSpec, key: str | None) -> Reply:
    loc, contact = contact_of(call)
    target = call.path_params[key] if key else None
    for record in _enrollments(loc, spec, contact["id"]):
        if key is None or record[key] == target:
            loc.collection(spec).delete(record["id"])
    return call.ok(_DONE)


def add_to_campaign(call: Call) -> Reply:
    return _enroll(call, CAMPAIGN_ENROLLMENTS, "campaignId", {})


def remove_from_campaign(call: Call) -> Reply:
    return _unenroll(call, CAMPAIGN_ENROLLMENTS, "campaignId")


def remove_from_every_campaign(call: Call) -> Reply:
    return _unenroll(call, CAMPAIGN_ENROLLMENTS, None)


def add_to_workflow(call: Call) -> Reply:
    start = call.json.get("eventStartTime")
    return _enroll(call, WORKFLOW_ENROLLMENTS, "workflowId", {"eventStartTime": start})


def remove_from_workflow(call: Call) -> Reply:
    return _unenroll(call, WORKFLOW_ENROLLMENTS, "workflowId")


HANDLERS: dict[str, Handler] = {
    "contacts.add_contact_to_campaign": add_to_campaign,
    "contacts.remove_contact_from_campaign": remove_from_campaign,
    "contacts.remove_contact_from_every_campaign": remove_from_every_campaign,
    "contacts.add_contact_to_workflow": add_to_workflow,
    "contacts.delete_contact_from_workflow": remove_from_workflow,
}
