"""Recipes: every problem named with file, line and field; the JSON Schema matches the model."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from ghlbridge.flows.recipe import RecipeError, load_flows, load_recipe, parse_recipe
from ghlbridge.flows.schema import recipe_schema

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "flows"

BROKEN = """\
name: broken-flow
trigger:
  poll:
    op: contacts.create_contact
    every: 1h
steps:
  - id: first
    action: contacts.get_contactt
    with:
      contactId: "{{ trigger.id }"
  - id: second
    action: http.request
    with:
      url: "{{ steps.third.url }}"
  - id: third
    action: http.request
    on_error: explode
"""


STEP = "steps: [{id: a, action: http.request, with: {url: 'https://x.test/'}}]\n"


def problems_of(text: str, name: str = "broken.yaml") -> list[str]:
    with pytest.raises(RecipeError) as info:
        parse_recipe(text, name)
    return [str(p) for p in info.value.problems]


def test_a_schema_problem_names_file_line_and_field() -> None:
    assert problems_of(BROKEN) == [
        "broken.yaml:17: steps[2].on_error: input should be 'stop', 'continue' or 'retry'"
    ]


def test_every_semantic_problem_is_reported_with_its_line() -> None:
    problems = problems_of(BROKEN.replace("    on_error: explode\n", ""))
    assert problems == [
        "broken.yaml:4: trigger.poll.op: contacts.create_contact is not a list/search "
        "operation, so it cannot be polled",
        "broken.yaml:8: steps[0].action: unknown action 'contacts.get_contactt': not a catalog "
        "operation, a curated action, http.request, webhook.send or clickbank.<action> (did "
        "you mean contacts.get_contact, contacts.get_contacts, contacts.upsert_contact?)",
        "broken.yaml:10: steps[0].with.contactId: template syntax: unexpected '}'",
        "broken.yaml:14: steps[1].with.url: steps.third is not an earlier step",
        "broken.yaml:15: steps[2].with: http.request needs `url`, or an http connection in "
        "`connection`",
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "name: x\ntrigger: {manual: {}}\nsteps: []\n",
            "x.yaml:3: steps: list should have at least 1 item after validation, not 0",
        ),
        (
            "name: x\ntrigger: {manual: {}, schedule: {every: 1h}}\n" + STEP,
            "x.yaml:2: trigger: give exactly one of poll, webhook, schedule, manual or clickbank "
            "(got schedule, manual)",
        ),
        (
            "name: x\ntrigger: {schedule: {cron: '61 * * * *'}}\n" + STEP,
            "x.yaml:2: trigger.schedule.cron: invalid cron '61 * * * *'",
        ),
        (
            "name: x\ntrigger: {webhook: {event: ContactCreated}}\n" + STEP,
            "x.yaml:2: trigger.webhook.event: unknown GHL webhook event 'ContactCreated' "
            "(did you mean ContactCreate, ContactUpdate, ContactDelete?)",
        ),
        (
            "name: x\ntrigger: {manual: {}}\n"
            "steps:\n  - id: a\n    action: http.request\n    colour: red\n",
            "x.yaml:6: steps[0].colour: unknown field",
        ),
        (
            "name: x\nname: y\ntrigger: {manual: {}}\n" + STEP,
            "x.yaml:2: name: duplicate key",
        ),
        (
            "name: x\ntrigger: {manual: {}\n",
            "x.yaml:3: invalid YAML: expected ',' or '}', but got '<stream end>'",
        ),
        (
            "name: Bad Name\ntrigger: {manual: {}}\n" + STEP,
            "x.yaml:1: name: string should match pattern '^[a-z0-9][a-z0-9_-]{0,63}$'",
        ),
    ],
)
def test_problems_name_the_line_and_field(text: str, expected: str) -> None:
    assert expected in problems_of(text, "x.yaml")


def test_intervals_below_ten_seconds_are_refused_in_recipes() -> None:
    text = "name: x\ntrigger: {schedule: {every: 9s}}\n" + STEP
    assert problems_of(text, "x.yaml") == [
        "x.yaml:2: trigger.schedule.every: input should be greater than or equal to 10"
    ]


def test_the_examples_are_valid_and_match_the_printed_json_schema() -> None:
    schema = recipe_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert len(files) >= 4
    for path in files:
        load_recipe(path)
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    json.dumps(schema)


def test_the_json_schema_rejects_what_the_model_rejects() -> None:
    bad = {"name": "x", "trigger": {"manual": {}}, "steps": [{"id": "a", "action": "x", "oops": 1}]}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(bad, recipe_schema())


def test_a_folder_loads_valid_recipes_and_reports_the_others(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text((EXAMPLES / "daily-tag-report.yaml").read_text())
    (tmp_path / "bad.yaml").write_text(BROKEN)
    (tmp_path / "dup.yml").write_text((EXAMPLES / "daily-tag-report.yaml").read_text())
    recipes, problems = load_flows(tmp_path)
    assert [r.name for r in recipes] == ["daily-tag-report"]
    assert any(str(p).startswith(f"{tmp_path / 'bad.yaml'}:17:") for p in problems)
    assert any("also defined in" in str(p) for p in problems)
