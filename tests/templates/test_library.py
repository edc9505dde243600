"""The packaged templates and `ghlbridge templates list|show|install`: every template is a
valid recipe once filled in, documents its fields, connections and GHL scopes, and installs
without ever overwriting a flow by accident or writing a broken one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from ghlbridge.catalog import load_catalog
from ghlbridge.cli import templates as templates_cli
from ghlbridge.flows.recipe import load_recipe
from ghlbridge.templates import TemplateError, get_template, install, load_templates

NAMES = {
    "clickbank-sale-to-contact",
    "social-tag-details-to-partner",
    "social-stats-to-partner",
    "new-location-tags-to-partner",
    "partner-tag-details-request",
    "posts-stats-to-partner",
}


def cli() -> typer.Typer:
    app = typer.Typer()
    app.add_typer(templates_cli.app, name="templates")
    return app


def test_every_template_is_a_valid_recipe_that_documents_fields_and_scopes() -> None:
    catalog = load_catalog()
    assert {t.name for t in load_templates()} == NAMES
    for template in load_templates():
        recipe = template.recipe({}, examples=True)
        assert recipe.name == template.name
        info = template.info
        assert info.fields and info.trigger_fields and info.seeds and info.connections
        scopes = template.scopes()
        for op, op_scopes in scopes.operations.items():
            assert tuple(catalog.get(op).scopes) == op_scopes  # from the catalog, as is
            assert set(op_scopes) <= set(scopes.scopes)
    assert get_template("clickbank-sale-to-contact").scopes().scopes == ("contacts.write",)
    assert set(get_template("new-location-tags-to-partner").scopes().scopes) == {
        "locations.readonly",
        "oauth.write",  # minting each location's token from the agency's
        "socialplanner/tag.readonly",  # from GHL's scopes page; the spec names none
    }
    assert get_template("social-tag-details-to-partner").scopes().scopes == (
        "socialplanner/tag.readonly",
    )
    assert set(get_template("posts-stats-to-partner").scopes().scopes) == {
        "socialplanner/account.readonly",
        "socialplanner/post.readonly",
    }
    fields = get_template("social-tag-details-to-partner").info.fields
    assert {"locationId", "tagId", "details", "timestamp"} <= set(fields)
    assert {"locationId", "dateRange", "metrics"} <= set(
        get_template("social-stats-to-partner").info.fields
    )


def test_values_with_yaml_specials_stay_values_and_unsafe_ones_are_refused() -> None:
    template = get_template("clickbank-sale-to-contact")
    tag = "vip: gold #1 [x], & more"
    recipe = template.recipe({"workflow_id": "wf-1", "access_tag": tag})
    assert recipe.step("access_tags").with_["tags"][0] == tag
    for bad in ("it's", 'say "hi"', "{{ env.SECRET }}", "a\\b", "50%", "two\nlines", ""):
        with pytest.raises(TemplateError, match="access_tag"):
            template.render({"workflow_id": "wf-1", "access_tag": bad})
    with pytest.raises(TemplateError, match="not a connection name"):
        template.render({"workflow_id": "wf-1", "ghl_connection": "Main"})
    with pytest.raises(TemplateError, match="unknown parameter colour"):
        template.render({"workflow_id": "wf-1", "colour": "red"})
    with pytest.raises(TemplateError, match=r"set workflow_id=\.\.\."):
        template.render({})
    with pytest.raises(TemplateError, match="not a duration"):
        get_template("social-stats-to-partner").render({"every": "daily"})


def test_install_writes_a_valid_flow_and_never_overwrites_one_by_accident(
    tmp_path: Path,
) -> None:
    flows = tmp_path / "flows"
    path = install("social-stats-to-partner", {"every": "6h"}, flows)
    assert path == flows / "social-stats-to-partner.yaml"
    recipe = load_recipe(path)
    assert recipe.trigger.schedule is not None and recipe.trigger.schedule.every == 21600
    with pytest.raises(TemplateError, match="already exists"):
        install("social-stats-to-partner", {"every": "1h"}, flows)
    assert load_recipe(path).trigger.schedule.every == 21600  # type: ignore[union-attr]
    install("social-stats-to-partner", {"every": "1h"}, flows, force=True)
    assert load_recipe(path).trigger.schedule.every == 3600  # type: ignore[union-attr]
    # Another file that defines the same flow name is a clash too.
    (flows / "mine.yaml").write_text(
        path.read_text().replace('name: "social-stats-to-partner"', "name: hourly")
    )
    with pytest.raises(TemplateError, match=r"mine\.yaml"):
        install("social-stats-to-partner", {"name": "hourly"}, flows)
    copy = install("social-stats-to-partner", {"name": "stats-two"}, flows)
    assert load_recipe(copy).name == "stats-two"
    with pytest.raises(TemplateError):
        install("clickbank-sale-to-contact", {}, flows)  # workflow_id is required
    assert sorted(p.name for p in flows.iterdir()) == [
        "mine.yaml",
        "social-stats-to-partner.yaml",
        "stats-two.yaml",
    ]


def test_the_cli_lists_shows_and_installs(tmp_path: Path) -> None:
    runner = CliRunner()
    listed = runner.invoke(cli(), ["templates", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    rows = {r["name"]: r for r in json.loads(listed.output)}
    assert set(rows) == NAMES and rows["clickbank-sale-to-contact"]["trigger"] == "clickbank"

    shown = runner.invoke(cli(), ["templates", "show", "social-tag-details-to-partner"])
    assert shown.exit_code == 0, shown.output
    for text in ("tagId:", "details:", "timestamp:", "GHL scopes:", "Recipe:", "${every}"):
        assert text in shown.output
    filled = runner.invoke(
        cli(), ["templates", "show", "social-tag-details-to-partner", "--json", "--set", "every=1m"]
    )
    data = json.loads(filled.output)
    assert yaml.safe_load(data["recipe"])["trigger"]["poll"]["every"] == "1m"

    flows = tmp_path / "flows"
    args = ["templates", "install", "clickbank-sale-to-contact", "--flows-dir", str(flows)]
    missing = runner.invoke(cli(), args)
    assert missing.exit_code == 2 and "workflow_id" in missing.output
    done = runner.invoke(cli(), [*args, "--set", "workflow_id=wf-9", "--set", "name=cb"])
    assert done.exit_code == 0, done.output
    assert "installed flow 'cb'" in done.output and "needs connection 'clickbank'" in done.output
    assert load_recipe(flows / "cb.yaml").step("enrol").with_["workflowId"] == "wf-9"
    again = runner.invoke(cli(), [*args, "--set", "workflow_id=wf-9", "--set", "name=cb"])
    assert again.exit_code == 2 and "--force" in again.output
    unknown = runner.invoke(cli(), ["templates", "show", "clickbank-sale"])
    assert unknown.exit_code == 2 and "did you mean clickbank-sale-to-contact" in unknown.output
