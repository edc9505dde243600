"""Benchmark data put straight into a sandbox through its Python API (no HTTP, no rate limit)."""

from __future__ import annotations

from typing import Any

from ghlbridge.sandbox import LocationState
from ghlbridge.sandbox.handlers.contacts import CONTACTS

_FIRST = ("Ada", "Bruno", "Chen", "Dalia", "Emeka", "Farah", "Goran", "Hana", "Ines", "Jonas")
_LAST = ("Okafor", "Lindqvist", "Moreau", "Tanaka", "Silva", "Novak", "Haddad", "Kovacs")


def contact_fields(i: int) -> dict[str, Any]:
    """One contact shaped like GHL's (about 700 bytes of JSON once stored)."""
    first, last = _FIRST[i % len(_FIRST)], _LAST[(i // len(_FIRST)) % len(_LAST)]
    email = f"{first}.{last}.{i}@example.com".lower()
    return {
        "firstName": first,
        "lastName": last,
        "name": f"{first} {last}",
        "firstNameLowerCase": first.lower(),
        "lastNameLowerCase": last.lower(),
        "fullNameLowerCase": f"{first} {last}".lower(),
        "email": email,
        "emailLowerCase": email,
        "phone": f"+1555{i % 10_000_000:07d}",
        "companyName": "Acme Roofing",
        "address1": f"{i} Main Street",
        "city": "Springfield",
        "state": "IL",
        "postalCode": "62701",
        "country": "US",
        "timezone": "America/Chicago",
        "source": "bench seed",
        "type": "lead",
        "dnd": False,
        "tags": ["bench", f"cohort-{i % 10}"],
        "customFields": [{"id": "kZ2bench0000000field", "value": f"value {i}"}],
    }


def seed_contacts(location: LocationState, n: int) -> None:
    contacts = location.collection(CONTACTS)
    for i in range(n):
        contacts.create(contact_fields(i))
