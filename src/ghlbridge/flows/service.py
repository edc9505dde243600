"""Wiring used by the CLI (and later the server): flows folder, store, clients, engine."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.engine import Engine

from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import Problem, Recipe, load_flows
from ghlbridge.flows.store import FlowStore
from ghlbridge.store import ConnectionStore, SQLTokenStore, Vault, home_dir

FLOWS_DIRNAME = "flows"


def flows_dirs(extra: Sequence[Path] = ()) -> list[Path]:
    """``GHLBRIDGE_HOME/flows`` and any folders given with ``--flows-dir``."""
    return [home_dir() / FLOWS_DIRNAME, *extra]


def load_all(dirs: Sequence[Path]) -> tuple[list[Recipe], list[Problem]]:
    recipes: list[Recipe] = []
    problems: list[Problem] = []
    names: set[str] = set()
    for directory in dirs:
        found, bad = load_flows(directory)
        problems += bad
        for recipe in found:
            if recipe.name in names:
                problems.append(
                    Problem(str(directory), None, "name", f"flow {recipe.name!r} is defined twice")
                )
                continue
            names.add(recipe.name)
            recipes.append(recipe)
    return recipes, problems


def build_engine(
    db: Engine,
    recipes: Sequence[Recipe],
    *,
    settings: EngineSettings | None = None,
    runner: ActionRunner | None = None,
    store: FlowStore | None = None,
    connections_db: Engine | None = None,
) -> FlowEngine:
    """An engine on `db` whose clients come from the stored connections (or the env)."""
    vault = Vault.from_env()
    conn_db = connections_db or db
    connections = ConnectionStore(conn_db, vault)
    clients = Clients(connections, token_store=SQLTokenStore(conn_db, vault))
    runner = runner or ActionRunner()
    if runner.connections is None:  # http and clickbank steps read the same store
        runner.connections = connections
    return FlowEngine(
        store or FlowStore(db),
        recipes,
        clients,
        settings=settings or EngineSettings.from_env(),
        runner=runner,
    )


__all__ = ["FLOWS_DIRNAME", "build_engine", "flows_dirs", "load_all"]
