"""Flows: YAML recipes (a trigger, then steps) run durably by an asyncio engine."""
