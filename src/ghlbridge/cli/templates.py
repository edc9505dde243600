"""`ghlbridge templates list|show|install`: the seeds' connection setups as ready flows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.flows.service import flows_dirs
from ghlbridge.templates import (
    Template,
    TemplateError,
    describe,
    get_template,
    install,
    load_templates,
    parse_sets,
)

app = typer.Typer(help="Ready flow templates: list them, show one, install one as a flow.")
console = Console()

SetOpt = Annotated[
    list[str] | None,
    typer.Option("--set", help="A parameter, NAME=VALUE (repeatable); see `templates show`."),
]


def _template(name: str) -> Template:
    try:
        return get_template(name)
    except TemplateError as exc:
        raise UsageError(str(exc)) from None


@app.command("list")
@reports_errors
def list_templates(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every template: its name, trigger, the GHL scopes it needs and what it does."""
    rows: list[dict[str, Any]] = []
    for template in load_templates():
        recipe = template.recipe({}, examples=True)
        rows.append(
            {
                "name": template.name,
                "trigger": recipe.trigger.kind,
                "scopes": list(template.scopes().scopes),
                "title": template.info.title,
            }
        )
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        scopes = " ".join(row["scopes"]) or "none in the spec"
        console.print(f"[bold]{row['name']}[/bold]  ({row['trigger']}; GHL scopes: {scopes})")
        console.print(f"  {row['title']}", highlight=False)
    console.print("details: ghlbridge templates show NAME", style="dim")


@app.command("show")
@reports_errors
def show(
    name: Annotated[str, typer.Argument(help="A template name (`templates list`).")],
    set_: SetOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """A template's fields, parameters, connections, GHL scopes and recipe (filled in with
    the --set values and defaults when any --set is given)."""
    template = _template(name)
    data = describe(template)
    try:
        if set_:
            data["recipe"] = template.render(parse_sets(set_))
    except TemplateError as exc:
        raise UsageError(str(exc)) from None
    if as_json:
        typer.echo(json.dumps(data, indent=2))
        return
    typer.echo(_text(data))


def _text(data: dict[str, Any]) -> str:
    lines = [f"{data['name']}: {data['title']}", "", data["summary"], ""]
    lines += ["Implements:", *(f"  {s}" for s in data["seeds"])]
    lines += ["", f"Trigger: {data['trigger']}", f"GHL token: {data['ghl_token']}", ""]
    lines.append("Parameters (--set NAME=VALUE):")
    for p in data["params"]:
        default = f" [default: {p['default']}]" if "default" in p else " [required]"
        lines.append(f"  {p['name']}{default}: {p['description']}")
    lines += ["", "Connections:"]
    for c in data["connections"]:
        lines.append(f"  {c['param']} ({c['provider']}): {c['setup']}")
    lines += ["", "Trigger fields (trigger.*):"]
    lines += [f"  {k}: {v}" for k, v in data["trigger_fields"].items()]
    endpoints = ", ".join(data["partner_endpoints"])
    lines += ["", f"Fields sent{f' ({endpoints})' if endpoints else ''}:"]
    lines += [f"  {k}: {v}" for k, v in data["fields"].items()]
    lines += ["", f"GHL scopes: {' '.join(data['scopes']) or 'none listed in the spec'}"]
    for op, scopes in data["operations"].items():
        lines.append(f"  {op}: {' '.join(scopes) or '(no scope in GHL spec)'}")
    lines += ["", "Recipe:", data["recipe"].rstrip()]
    return "\n".join(lines)


@app.command("install")
@reports_errors
def install_template(
    name: Annotated[str, typer.Argument(help="A template name (`templates list`).")],
    set_: SetOpt = None,
    flows_dir: Annotated[
        Path | None,
        typer.Option("--flows-dir", help="Where to write the flow (default GHLBRIDGE_HOME/flows)."),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace a flow of the same name.")
    ] = False,
) -> None:
    """Write the template, filled in and validated, as a flow recipe."""
    template = _template(name)
    target_dir = flows_dir or flows_dirs()[0]
    try:
        path = install(template.name, parse_sets(set_ or []), target_dir, force=force)
    except TemplateError as exc:
        raise UsageError(str(exc)) from None
    values = template.values(parse_sets(set_ or []))
    console.print(f"installed flow {values['name']!r} to {path}")
    for needed in template.info.connections:
        console.print(
            f"  needs connection {values[needed.param]!r} ({needed.provider}): {needed.setup}"
        )
    console.print("then: ghlbridge flows validate; ghlbridge serve")


__all__ = ["app"]
