"""The `ghlbridge` command: wires the sub-commands together."""

from __future__ import annotations

import typer

from ghlbridge import __version__
from ghlbridge.cli import (
    calls,
    clickbank,
    connections,
    demo,
    events,
    flows,
    ops,
    runs,
    sandbox,
    serve,
    templates,
)

app = typer.Typer(
    name="ghlbridge",
    help="Self-hosted GoHighLevel integration engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(ops.app, name="ops")
app.add_typer(connections.app, name="connections")
app.add_typer(connections.connect_app, name="connect")
app.command("call")(calls.call)
app.command("export")(calls.export)
app.command("sandbox")(sandbox.sandbox)
app.command("demo")(demo.demo)
app.add_typer(templates.app, name="templates")
app.add_typer(flows.app, name="flows")
app.add_typer(runs.app, name="runs")
app.add_typer(events.app, name="events")
app.add_typer(clickbank.app, name="clickbank")
app.command("serve")(serve.serve)


@app.command("version")
def version() -> None:
    """Print the version."""
    typer.echo(__version__)


if __name__ == "__main__":
    app()
