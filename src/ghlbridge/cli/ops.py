"""`ghlbridge ops ...`: browse the catalog and the curated triggers and actions."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.catalog import Operation, load_catalog
from ghlbridge.catalog.curated import load_curated, polling_candidates
from ghlbridge.cli.errors import UsageError, reports_errors

app = typer.Typer(help="Browse every GHL operation and the curated triggers and actions.")
console = Console()


def entries(kind: str | None, app_name: str | None) -> list[dict[str, Any]]:
    """Rows for `ops list`: catalog ops, or with --kind the curated entries plus candidates."""
    catalog = load_catalog()
    if kind is None:
        ops = sorted(catalog, key=lambda o: o.id)
        rows = [_op_row(op) for op in ops]
    elif kind in ("trigger", "action"):
        curated = load_curated(catalog)
        named = curated.triggers() if kind == "trigger" else curated.actions()
        rows = [
            {
                **_op_row(catalog.get(c.op_id)),
                "name": c.name,
                "title": c.title,
                "category": c.category,
                "kind": c.kind,
                "source": "curated",
            }
            for c in named
        ]
        taken = {c.op_id for c in named}
        others = (
            polling_candidates(catalog)
            if kind == "trigger"
            else [op for op in catalog if op.kind == "write"]
        )
        source = "polling" if kind == "trigger" else "catalog"
        rows += [
            {**_op_row(op), "name": op.id, "kind": kind, "source": source}
            for op in sorted(others, key=lambda o: o.id)
            if op.id not in taken
        ]
    else:
        raise UsageError(f"--kind {kind!r}: expected trigger or action")
    if app_name:
        if app_name not in catalog.apps():
            raise UsageError(f"--app {app_name!r}: unknown app; apps: {', '.join(catalog.apps())}")
        rows = [r for r in rows if r["app"] == app_name]
    return rows


def _op_row(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "app": op.app,
        "method": op.method,
        "path": op.path,
        "summary": op.summary,
        "kind": op.kind,
        "deprecated": op.deprecated,
    }


@app.command("list")
@reports_errors
def list_ops(
    app_name: Annotated[str | None, typer.Option("--app", help="Only this app.")] = None,
    kind: Annotated[str | None, typer.Option(help="trigger or action.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    rows = entries(kind, app_name)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id" if kind is None else "name", "method", "path", "kind", box=None)
    for r in rows:
        table.add_row(r.get("name", r["id"]), r["method"], r["path"], r.get("source", r["kind"]))
    console.print(table)
    console.print(f"{len(rows)} operations", style="dim")


@app.command("search")
@reports_errors
def search_ops(
    text: str,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    hits = load_catalog().search(text)
    if as_json:
        typer.echo(json.dumps([_op_row(op) for op in hits], indent=2))
        return
    table = Table("id", "method", "path", "summary", box=None)
    for op in hits:
        table.add_row(op.id, op.method, op.path, op.summary)
    console.print(table)
    console.print(f"{len(hits)} matches", style="dim")


def resolve(name: str) -> Operation:
    """An op id, or a curated trigger/action name."""
    catalog = load_catalog()
    if name in catalog:
        return catalog.get(name)
    curated = load_curated(catalog)
    entry = curated.find(name)
    return catalog.get(entry.op_id) if entry else catalog.get(name)


def describe(op: Operation) -> dict[str, Any]:
    return {
        **_op_row(op),
        "version": op.version,
        "version_v3": op.version_v3,
        "scopes": list(op.scopes),
        "token_type": op.token_type,
        "oauth_only": op.oauth_only,
        "params": [
            {"name": p.name, "in": p.location, "required": p.required, "schema": p.schema}
            for p in op.params
        ],
        "body": None
        if op.body is None
        else {
            "content_type": op.body.content_type,
            "required": op.body.required,
            "schema": op.body.schema,
        },
        "paging": None
        if op.paging is None
        else {"style": op.paging.style, "params": op.paging.params, "in_body": op.paging.in_body},
        "response": {"status": op.response.status, "items": op.response.items},
    }


@app.command("show")
@reports_errors
def show_op(
    op_name: Annotated[str, typer.Argument(metavar="OP")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    info = describe(resolve(op_name))
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    console.print(f"[bold]{info['id']}[/bold]  {info['method']} {info['path']}")
    console.print(
        f"  {info['summary']}" + ("  [red](deprecated)[/red]" if info["deprecated"] else "")
    )
    console.print(
        f"  Version: {info['version'] or '-'}   token: {info['token_type']}"
        + (" (OAuth only)" if info["oauth_only"] else "")
    )
    console.print(f"  scopes: {', '.join(info['scopes']) or '-'}   kind: {info['kind']}")
    if info["paging"]:
        console.print(f"  paging: {info['paging']['style']} {info['paging']['params']}")
    if info["params"]:
        table = Table("param", "in", "type", "required", "enum/default", box=None)
        for p in info["params"]:
            schema = p["schema"]
            extra = schema.get("enum") or schema.get("default") or ""
            table.add_row(
                p["name"],
                p["in"],
                str(schema.get("type", "")),
                "yes" if p["required"] else "",
                str(extra),
            )
        console.print(table)
    if info["body"]:
        console.print(f"  body ({info['body']['content_type']}):")
        console.print_json(json.dumps(info["body"]["schema"]))
