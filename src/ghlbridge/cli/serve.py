"""`ghlbridge serve`: one process with the HTTP server (webhooks, OAuth, REST API), the flow
engine's scheduler (polls, schedules, catch-ups) and its workers, until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ghlbridge.cli.errors import UsageError, reports_errors

if TYPE_CHECKING:
    from ghlbridge.server.runner import RunningServer

FlowsDirOpt = Annotated[
    list[Path] | None,
    typer.Option("--flows-dir", help="Another folder of recipes (repeatable)."),
]


@reports_errors
def serve(
    host: Annotated[str, typer.Option(envvar="GHLBRIDGE_HOST", help="Address to listen on.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(envvar="GHLBRIDGE_PORT", help="Port (0: any free).")] = 8080,
    flows_dir: FlowsDirOpt = None,
    concurrency: Annotated[
        int | None,
        typer.Option(envvar="GHLBRIDGE_FLOW_CONCURRENCY", help="Runs worked on at once."),
    ] = None,
    public_url: Annotated[
        str | None,
        typer.Option(
            envvar="GHLBRIDGE_PUBLIC_URL",
            help="Where GHL and browsers reach this server (for the OAuth redirect URI).",
        ),
    ] = None,
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="Start even if some recipes are invalid.")
    ] = False,
    reset_admin_token: Annotated[
        bool,
        typer.Option("--reset-admin-token", help="Replace the admin token and print the new one."),
    ] = False,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Serve webhooks, the OAuth install flow and the REST API, and run the flows.

    At first start an admin token is made and printed once: the API needs it as
    `Authorization: Bearer <token>`.
    """
    # The server is imported here, not at module level: every other command starts faster.
    from ghlbridge.flows.redact import Redactor
    from ghlbridge.server import ServerSettings, SettingsError, create_app, services_of
    from ghlbridge.server.logs import RedactingFilter
    from ghlbridge.server.runner import serve_until_signalled
    from ghlbridge.server.verify import PublicKeyError

    redaction = RedactingFilter(Redactor())
    _configure_logging(log_level, redaction)
    try:
        settings = ServerSettings.from_env(
            host=host,
            port=port,
            flows_dirs=tuple(flows_dir or ()),
            concurrency=concurrency,
            public_url=public_url,
        )
        app = create_app(settings)
    except (SettingsError, PublicKeyError) as exc:
        raise UsageError(str(exc)) from None
    services = services_of(app)
    for problem in services.problems:
        sys.stderr.write(f"{problem}\n")
    if services.problems and not skip_invalid:
        raise UsageError(
            f"{len(services.problems)} problem(s) in the recipes; fix them or --skip-invalid"
        )
    redaction.redactor = services.redactor  # every secret in the store, from now on
    token = services.admin.reset() if reset_admin_token else services.admin.ensure()
    if token is not None:  # plain lines (never wrapped), so scripts can read the token
        what = "new admin token" if reset_admin_token else "admin token (first start)"
        typer.echo(f"{what}, shown only this once; the API needs it as a bearer token:")
        typer.echo(token)
    names = sorted(services.engine.flows)

    def started(served: RunningServer) -> None:
        typer.echo(
            f"ghlbridge server listening on {served.url} (API docs: {served.url}/docs); "
            f"{len(names)} flow(s) enabled: {', '.join(names) or 'none'}; Ctrl-C stops"
        )
        sys.stdout.flush()

    try:
        asyncio.run(serve_until_signalled(app, settings.host, settings.port, on_started=started))
    except OSError as exc:  # the address is taken or not ours
        raise UsageError(
            f"cannot listen on {settings.host}:{settings.port}: {exc.strerror or exc}"
        ) from None
    typer.echo("ghlbridge server stopped")


def _configure_logging(level: str, redaction: logging.Filter) -> None:
    name = level.upper()
    if name not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise UsageError(f"--log-level {level!r}: expected debug, info, warning or error")
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redaction)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("ghlbridge").setLevel(name)
    logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, logging.getLevelName(name)))


__all__ = ["serve"]
