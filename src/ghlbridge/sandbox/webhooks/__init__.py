"""GHL webhooks from the sandbox: events from data changes, signed like GHL, delivered in the
background with GHL's retry rule (429 only), and logged."""

from ghlbridge.sandbox.webhooks.delivery import Delivery, Envelope, WebhookSender
from ghlbridge.sandbox.webhooks.events import EVENT_RULES, EventMapper, EventRule
from ghlbridge.sandbox.webhooks.hub import Webhooks
from ghlbridge.sandbox.webhooks.keys import ED25519_HEADER, RSA_HEADER, PublicKeys, WebhookKeys

__all__ = [
    "ED25519_HEADER",
    "EVENT_RULES",
    "RSA_HEADER",
    "Delivery",
    "Envelope",
    "EventMapper",
    "EventRule",
    "PublicKeys",
    "WebhookKeys",
    "WebhookSender",
    "Webhooks",
]
