"""Workflows: ``GET /workflows/`` lists a location's workflows.

GHL's API cannot create a workflow (they are built in the app), so each new location is
seeded with three; `add_workflow` lets tests and the demo add more. Contact enrolment checks
`workflowId` against this ``workflows`` collection.
"""

from __future__ import annotations

import uuid

from ghlbridge.sandbox.exchange import Call, Handler, Reply
from ghlbridge.sandbox.ids import derive_seed
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, Seeder

WORKFLOWS = ResourceSpec("workflows", created_field="createdAt", updated_field="updatedAt")
DEMO_WORKFLOWS = (
    ("New Lead Nurture", "published"),
    ("Appointment Reminder", "published"),
    ("Re-engagement Campaign", "draft"),
)


def add_workflow(loc: LocationState, name: str, status: str = "published") -> Record:
    """A workflow with GHL's UUID-shaped id (stable for the sandbox's seed)."""
    key = loc.new_id()
    bits = derive_seed("workflow", key) << 64 | derive_seed("workflow", key, "low")
    workflow_id = str(uuid.UUID(int=bits, version=4))
    return loc.collection(WORKFLOWS).create(
        {"name": name, "status": status, "version": 1}, record_id=workflow_id
    )


def seed_workflows(loc: LocationState, count: int) -> None:
    for name, status in DEMO_WORKFLOWS:
        add_workflow(loc, name, status)


def list_workflows(call: Call) -> Reply:
    return call.ok({"workflows": list(call.location().collection(WORKFLOWS))})


HANDLERS: dict[str, Handler] = {"workflows.get_workflow": list_workflows}
SEEDERS: tuple[Seeder, ...] = (seed_workflows,)
