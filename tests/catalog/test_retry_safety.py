"""The retry safety of GHL writes lives in the curated layer (per-endpoint knowledge), and
the flow engine's actions read it from there."""

from __future__ import annotations

import pytest

from ghlbridge.catalog import load_catalog
from ghlbridge.catalog.curated import CURATED_PATH, Curated, CuratedError, load_curated
from ghlbridge.flows.actions import resolve_action


def test_idempotent_writes_and_upsert_twins_come_from_curated_yaml() -> None:
    catalog = load_catalog()
    curated = load_curated(catalog)
    assert curated.idempotent_writes == {
        "contacts.upsert_contact",
        "contacts.add_tags",
        "contacts.remove_tags",
    }
    assert curated.upsert_twin("contacts.create_contact") == "contacts.upsert_contact"
    create = resolve_action("contacts.create_contact", catalog, curated)
    assert create.upsert_twin == "contacts.upsert_contact" and create.idempotent()
    tags = resolve_action("add_tags_to_contact", catalog, curated)  # a curated name
    assert tags.idempotent_write and tags.idempotent()
    note = resolve_action("contacts.create_note", catalog, curated)
    assert not note.idempotent()


@pytest.mark.parametrize(
    ("section", "message"),
    [
        ("retry_safety: {idempotent_writes: [contacts.get_contact]}", "is a read"),
        ("retry_safety: {idempotent_writes: [contacts.nope]}", "contacts.nope"),
        (
            "retry_safety: {upsert_twins: {contacts.create_contact: contacts.upsert_contact}}",
            "must be one of idempotent_writes",
        ),
        ("retry_safety: {colour: red}", "expected a mapping"),
    ],
)
def test_a_bad_retry_safety_section_is_refused(section: str, message: str) -> None:
    text = CURATED_PATH.read_text(encoding="utf-8")
    text = text[: text.index("retry_safety:")] + section + "\n"
    with pytest.raises(CuratedError, match=message):
        Curated.from_yaml(text, load_catalog())
