"""`ghlbridge flows ...`: validate, list and run flow recipes (`serve` is in `cli/serve.py`)."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.session import open_engine
from ghlbridge.flows.actions import ActionRunner, DryRunLog
from ghlbridge.flows.recipe import RecipeError, load_recipe
from ghlbridge.flows.schema import recipe_schema
from ghlbridge.flows.service import build_engine, flows_dirs, load_all
from ghlbridge.flows.store import FlowStore, RunRecord
from ghlbridge.store import create_engine, migrate

app = typer.Typer(help="Validate, list and run flow recipes (GHLBRIDGE_HOME/flows/*.yaml).")
console = Console()

FlowsDirOpt = Annotated[
    list[Path] | None,
    typer.Option("--flows-dir", help="Another folder of recipes (repeatable)."),
]


@app.command("validate")
@reports_errors
def validate(
    files: Annotated[list[Path] | None, typer.Argument(help="Recipe files (default: all).")] = None,
    flows_dir: FlowsDirOpt = None,
) -> None:
    """Check recipes; every problem is printed as FILE:LINE: field: problem."""
    problems = []
    checked: list[str] = []
    if files:
        for path in files:
            try:
                recipe = load_recipe(path)
                checked.append(f"{path} ({recipe.name})")
            except RecipeError as exc:
                problems += exc.problems
    else:
        recipes, problems = load_all(flows_dirs(flows_dir or []))
        checked = [r.name for r in recipes]
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    if problems:
        raise typer.Exit(2)
    for name in checked:
        typer.echo(f"ok: {name}")


@app.command("schema")
def schema() -> None:
    """Print the JSON Schema of a recipe."""
    typer.echo(json.dumps(recipe_schema(), indent=2))


@app.command("list")
@reports_errors
def list_flows(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    flows_dir: FlowsDirOpt = None,
) -> None:
    """The flows found in the flows folders (and problems with the others, on stderr)."""
    recipes, problems = load_all(flows_dirs(flows_dir or []))
    for problem in problems:
        sys.stderr.write(f"{problem}\n")
    rows: list[dict[str, Any]] = [
        {
            "name": r.name,
            "trigger": r.trigger.kind,
            "steps": [s.id for s in r.steps],
            "connection": r.connection,
            "enabled": r.enabled,
            "description": r.description,
        }
        for r in recipes
    ]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("flow", "trigger", "steps", "connection", box=None)
    for row in rows:
        table.add_row(
            row["name"], row["trigger"], ", ".join(row["steps"]), row["connection"] or "-"
        )
    console.print(table)


@app.command("run")
@reports_errors
def run_flow(
    name: Annotated[str, typer.Argument(help="The flow to run.")],
    input_json: Annotated[str | None, typer.Option("--input", help="Trigger data as JSON.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Do the reads, print the writes, store nothing.")
    ] = False,
    flows_dir: FlowsDirOpt = None,
    timeout: Annotated[float, typer.Option(help="Seconds to wait for the run.")] = 120.0,
) -> None:
    """Start a flow now with --input as its trigger data; print the run as JSON."""
    data = _parse_input(input_json)
    recipes, _problems = load_all(flows_dirs(flows_dir or []))
    recipe = next((r for r in recipes if r.name == name), None)
    if recipe is None:
        known = ", ".join(r.name for r in recipes) or "none"
        raise UsageError(f"no valid flow named {name!r} (flows: {known}); see `flows validate`")
    result = asyncio.run(_run(recipe.name, recipes, data, dry_run=dry_run, timeout=timeout))
    typer.echo(json.dumps(result, indent=2, default=str))
    if any(r["status"] != "succeeded" for r in result["runs"]):
        raise typer.Exit(1)


def _parse_input(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"--input: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}"
        ) from None
    if not isinstance(data, dict):
        raise UsageError("--input: expected a JSON object")
    return data


async def _run(
    name: str, recipes: list[Any], data: dict[str, Any], *, dry_run: bool, timeout: float
) -> dict[str, Any]:
    real_db = open_engine()
    log = DryRunLog() if dry_run else None
    db = real_db
    if dry_run:  # the same code path, on a throwaway in-memory store
        db = create_engine("sqlite://")
        migrate(db)
    engine = build_engine(db, recipes, runner=ActionRunner(dry_run=log), connections_db=real_db)
    await engine.start(triggers=False, workers=False)
    try:
        accepted = await engine.start_manual(name, data)
        runs = await engine.run_until_settled(accepted.run_ids, timeout=timeout)
        out: dict[str, Any] = {"runs": [run_summary(engine.store, r) for r in runs]}
    finally:
        await engine.stop()
    if log is not None:
        out = {"dry_run": True, "writes": log.writes, **out}
    return out


def run_summary(store: FlowStore, run: RunRecord) -> dict[str, Any]:
    """A run and its step attempts, as `flows run` and `runs show` print them."""
    return {**run.to_dict(), "attempts": [a.to_dict() for a in store.attempts(run.id)]}
