"""Mapping templates: typed whole expressions, strict undefined names, the sandbox, helpers."""

from __future__ import annotations

import pytest

from ghlbridge.flows.redact import Redactor, flow_env
from ghlbridge.flows.templates import TemplateError, evaluate, referenced_steps, render

CTX = {
    "trigger": {
        "id": "c1",
        "items": [1, 2],
        "dateAdded": "2026-03-01T07:30:00.000Z",
        "ms": 1772350200000,
    },
    "steps": {"fields": {"customFields": [{"fieldKey": "contact.plan", "id": "f1"}]}},
}


def test_a_whole_expression_keeps_its_type_and_text_renders_as_text() -> None:
    assert render({"a": "{{ trigger.items }}", "b": "id={{ trigger.id }}", "c": 3}, CTX) == {
        "a": [1, 2],
        "b": "id=c1",
        "c": 3,
    }


def test_an_undefined_name_fails_naming_the_field() -> None:
    with pytest.raises(TemplateError, match=r"^with\.x: 'dict object' has no attribute 'nope'"):
        render({"x": "{{ trigger.nope }}"}, CTX, "with")


def test_the_sandbox_refuses_python_internals() -> None:
    with pytest.raises(TemplateError, match="unsafe"):
        render("{{ trigger.__class__.__mro__ }}", CTX)


def test_date_and_lookup_helpers() -> None:
    assert render("{{ trigger.dateAdded | date('%d/%m/%Y') }}", CTX) == "01/03/2026"
    assert render("{{ trigger.ms | iso }}", CTX) == "2026-03-01T07:30:00.000Z"
    assert render("{{ trigger.dateAdded | epoch_ms }}", CTX) == 1772350200000
    assert (
        render("{{ lookup(steps.fields.customFields, 'fieldKey', 'contact.plan').id }}", CTX)
        == "f1"
    )
    assert render("{{ lookup(trigger, 'missing', default='-') }}", CTX) == "-"
    assert evaluate("trigger.items | length > 1", CTX) is True
    assert isinstance(render("{{ now() }}", CTX), str)


def test_step_references_are_found() -> None:
    assert referenced_steps(
        {"a": "{{ steps.one.x }} {{ steps['two'] }}", "b": ["{{ steps.three }}"]}
    ) == {
        "one",
        "two",
        "three",
    }


def test_redaction_masks_known_secrets_and_secret_fields() -> None:
    redactor = Redactor(["tok-123456"])
    env = flow_env({"PARTNER_API_KEY": "k-abcdefgh", "GHL_TOKEN": "x", "PLAIN": "v"}, redactor)
    assert env == {"PARTNER_API_KEY": "k-abcdefgh", "PLAIN": "v"}
    assert redactor(
        {"headers": {"Authorization": "Bearer z"}, "note": "tok-123456 and k-abcdefgh"}
    ) == {
        "headers": {"Authorization": "***"},
        "note": "*** and ***",
    }
