"""`ghlbridge demo`: the options; the body (`demo_run.py`) is imported only when it runs, since
it pulls in the sandbox, the server and the flow engine and would slow every other command."""

from __future__ import annotations

from typing import Annotated

import typer

from ghlbridge.cli.errors import reports_errors


@reports_errors
def demo(
    contacts: Annotated[
        int, typer.Option(help="Contacts the client part creates in the sandbox.")
    ] = 150,
    keep: Annotated[
        bool, typer.Option("--keep", help="Keep everything running until Ctrl-C, to explore.")
    ] = False,
    timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the flows' runs.", min=5)
    ] = 45.0,
) -> None:
    """Run the client, the sandbox, the server and the template flows together, offline.

    State goes to GHLBRIDGE_HOME/demo (reset at each start), never to your own flows or
    connections.
    """
    from ghlbridge.cli.demo_run import run

    run(contacts, keep=keep, timeout=timeout)
