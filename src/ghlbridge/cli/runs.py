"""`ghlbridge runs list|show|replay`: what flows did, and a second chance for dead runs."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.flows import run_summary
from ghlbridge.cli.session import open_engine
from ghlbridge.flows.runs import RUN_REPLAYABLE, RunState
from ghlbridge.flows.service import build_engine, flows_dirs, load_all
from ghlbridge.flows.store import FlowStore, RunRecord
from ghlbridge.store.schema import RUN_STATES

app = typer.Typer(help="Flow runs: list, show, replay.")
console = Console()


def _find(store: FlowStore, run_id: str) -> RunRecord:
    run = store.find_run(run_id)
    if run is None:
        raise UsageError(f"no run with id (or unique id prefix) {run_id!r}")
    return run


@app.command("list")
@reports_errors
def list_runs(
    status: Annotated[str | None, typer.Option(help=f"One of {', '.join(RUN_STATES)}.")] = None,
    flow: Annotated[str | None, typer.Option(help="Only this flow's runs.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Runs, newest first."""
    if status is not None and status not in RUN_STATES:
        raise UsageError(f"--status {status!r}: expected one of {', '.join(RUN_STATES)}")
    runs = FlowStore(open_engine()).list_runs(status=status, flow=flow, limit=limit)
    if as_json:
        typer.echo(json.dumps([r.to_dict() for r in runs], indent=2))
        return
    table = Table("run", "flow", "status", "try", "location", "created", "error", box=None)
    for r in runs:
        table.add_row(
            r.id[:8],
            r.flow,
            r.status,
            str(r.attempt),
            r.location_id or "-",
            r.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            (r.error or "")[:60],
        )
    console.print(table)


@app.command("show")
@reports_errors
def show(run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix.")]) -> None:
    """A run, its trigger data and every step attempt (inputs, outputs, errors, timings)."""
    store = FlowStore(open_engine())
    typer.echo(json.dumps(run_summary(store, _find(store, run_id)), indent=2, default=str))


@app.command("replay")
@reports_errors
def replay(
    run_id: Annotated[str, typer.Argument(help="Run id or a unique prefix.")],
    queue_only: Annotated[
        bool, typer.Option("--queue", help="Only queue it for `ghlbridge serve`.")
    ] = False,
    flows_dir: Annotated[list[Path] | None, typer.Option("--flows-dir")] = None,
) -> None:
    """Run a failed or dead run again: completed steps are kept, the rest run again."""
    db = open_engine()
    store = FlowStore(db)
    run = _find(store, run_id)
    if run.status not in RUN_REPLAYABLE:
        raise UsageError(f"run {run.id} is {run.status}; only failed or dead runs are replayed")
    if not store.move_run(
        run.id, RunState.PENDING, expect=[RunState(run.status)], error=None, finished_at=None
    ):
        raise UsageError(f"run {run.id} changed state meanwhile; look again")
    if queue_only:
        typer.echo(json.dumps({"id": run.id, "status": "pending"}))
        return
    recipes, _ = load_all(flows_dirs(flows_dir or []))
    if run.flow not in {r.name for r in recipes}:
        raise UsageError(f"run {run.id} queued, but flow {run.flow!r} is not loaded here")
    result = asyncio.run(_replay(db, recipes, run.id))
    typer.echo(json.dumps(result, indent=2, default=str))
    if result["status"] != "succeeded":
        raise typer.Exit(1)


async def _replay(db: Any, recipes: list[Any], run_id: str) -> dict[str, Any]:
    engine = build_engine(db, recipes)
    await engine.start(triggers=False, workers=False)
    try:
        [run] = await engine.run_until_settled([run_id])
        return run_summary(engine.store, run)
    finally:
        await engine.stop()
