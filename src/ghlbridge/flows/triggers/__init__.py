"""What starts a run: polling, GHL webhook events, schedules and manual starts.

Each trigger turns what it sees into `accept` calls on the store (event + dedupe claims +
runs in one transaction), so whatever it acknowledges is already durable.
"""

from ghlbridge.flows.triggers.keys import Target, change_claim, fingerprint, new_item_claim

__all__ = ["Target", "change_claim", "fingerprint", "new_item_claim"]
