"""Everything one server instance works with, built once by `create_app` from its settings:
the store, the vault, the flow engine, the webhook verifier, the admin credential, ...

Routers get it through the typed dependency `deps.ServicesDep`; nothing here is global.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Engine

from ghlbridge.client.oauth import OAuthApp
from ghlbridge.client.transport import Transport
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.clients import Clients
from ghlbridge.flows.engine import EngineSettings, FlowEngine
from ghlbridge.flows.recipe import Problem, Recipe
from ghlbridge.flows.redact import SECRET_ENV_NAME as SECRET_NAME
from ghlbridge.flows.redact import SECRET_FIELD_NAMES, Redactor
from ghlbridge.flows.service import flows_dirs, load_all
from ghlbridge.flows.store import FlowStore
from ghlbridge.server.auth import AdminCredentials
from ghlbridge.server.flow_settings import FlowSwitches, HookSecrets
from ghlbridge.server.installations import Installations
from ghlbridge.server.metrics import ServerCounters
from ghlbridge.server.oauth_apps import OAuthAppConfig, OAuthAppStore
from ghlbridge.server.ratelimit import SourceLimiter
from ghlbridge.server.settings import ED25519_KEY_ENV, RSA_KEY_ENV, ServerSettings
from ghlbridge.server.verify import WebhookVerifier
from ghlbridge.store import (
    ConnectionStore,
    SQLTokenStore,
    Vault,
    VaultError,
    create_engine,
    migrate,
)

log = logging.getLogger("ghlbridge.server")
TransportFactory = Callable[[], Transport]


@dataclass
class Services:
    settings: ServerSettings
    db: Engine
    vault: Vault
    connections: ConnectionStore
    tokens: SQLTokenStore
    flow_store: FlowStore
    engine: FlowEngine
    recipes: dict[str, Recipe]
    """Every valid recipe loaded, enabled or not."""
    problems: list[Problem]
    verifier: WebhookVerifier
    admin: AdminCredentials
    oauth_apps: OAuthAppStore
    installations: Installations
    hook_secrets: HookSecrets
    switches: FlowSwitches
    limiter: SourceLimiter
    counters: ServerCounters = field(default_factory=ServerCounters)
    redactor: Redactor = field(default_factory=Redactor)
    ghl_transport: TransportFactory | None = None
    """Test seam: how GHL is reached (default: aiohttp to `settings.ghl_base_url`)."""

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Resume unfinished runs and start the triggers (the scheduler) and the workers."""
        await asyncio.to_thread(self.learn_secrets)
        await self.engine.start()

    async def stop(self) -> None:
        """Stop the engine: runs in flight finish or are handed back, resumable."""
        await self.engine.stop()

    # -- flows ----------------------------------------------------------------------------

    def flow_enabled(self, name: str) -> bool:
        return name in self.engine.flows

    async def set_flow_enabled(self, name: str, enabled: bool) -> None:
        """Store the switch, then apply it to the engine (on the event loop's thread)."""
        recipe = self.recipes[name]
        await asyncio.to_thread(self.switches.set, name, enabled)
        if enabled:
            self.engine.enable(recipe.model_copy(update={"enabled": True}))
        else:
            self.engine.disable(name)

    # -- OAuth ----------------------------------------------------------------------------

    def oauth_config(self) -> OAuthAppConfig | None:
        return self.oauth_apps.get()

    def oauth_client(self, config: OAuthAppConfig) -> OAuthApp:
        return config.oauth_app(
            self.settings.redirect_uri,
            base_url=self.settings.ghl_base_url,
            marketplace_url=self.settings.marketplace_url,
            transport=self.ghl_transport() if self.ghl_transport else None,
        )

    def ghl_clients(self) -> Clients:
        """A fresh client provider over the stored connections (for `connections test`)."""
        return Clients(
            self.connections,
            environ={"GHL_BASE_URL": self.settings.ghl_base_url},
            transport=self.ghl_transport,
            token_store=self.tokens,
        )

    # -- secrets --------------------------------------------------------------------------

    def learn_secrets(self, extra: Iterable[str] = ()) -> None:
        """Teach the redactors (logs, errors, run records) every secret the store holds."""
        found = list(extra)
        for conn in self.connections.list():
            try:
                found += _secret_values(conn.secret())
            except VaultError:  # an undecryptable row is reported where it is used
                log.warning("cannot decrypt the secret of connection %s", conn.name)
        try:
            config = self.oauth_apps.get()
            if config is not None:
                found.append(config.client_secret())
            found += self.hook_secrets.all_secrets()
        except VaultError as exc:
            log.warning("%s", exc)
        self.redactor.add(found)
        self.engine.redactor.add(found)


_SECRET_KEYS = SECRET_FIELD_NAMES | {"value", "dev_key", "secret_key", "hmac_secret"}


def _secret_values(value: Any, *, secret: bool = False) -> list[str]:
    """The strings of a stored secret that are credentials: under keys named like one
    (``token``, ``client_secret``, an API key preset's ``value``, ...), not its settings
    (a base URL, a header name), which would otherwise be masked in every run record."""
    if isinstance(value, str):
        return [value] if secret else []
    if isinstance(value, Mapping):
        return [
            s
            for k, v in value.items()
            for s in _secret_values(
                v,
                secret=secret or str(k).lower() in _SECRET_KEYS or bool(SECRET_NAME.search(str(k))),
            )
        ]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secret_values(v, secret=secret)]
    return []


def build_services(
    settings: ServerSettings,
    *,
    engine: FlowEngine | None = None,
    recipes: Sequence[Recipe] | None = None,
    vault: Vault | None = None,
    ghl_transport: TransportFactory | None = None,
    environ: Mapping[str, str] | None = None,
) -> Services:
    """Open (and migrate) the store and build the engine, unless one is given."""
    env = dict(os.environ if environ is None else environ)
    db = engine.store.engine if engine is not None else create_engine(settings.database_url)
    migrate(db)
    vault = vault or Vault.from_env(env)
    connections = ConnectionStore(db, vault)
    tokens = SQLTokenStore(db, vault)
    switches = FlowSwitches(db)
    problems: list[Problem] = []
    if recipes is None:
        if engine is not None:
            recipes = list(engine.flows.values())
        else:
            recipes, problems = load_all(flows_dirs(settings.flows_dirs))
    overrides = switches.all()
    effective = [
        r.model_copy(update={"enabled": overrides.get(r.name, r.enabled)}) for r in recipes
    ]
    if engine is None:
        engine_settings = EngineSettings.from_env(env)
        if settings.concurrency is not None:
            engine_settings.concurrency = settings.concurrency
        clients = Clients(
            connections,
            environ={**env, "GHL_BASE_URL": settings.ghl_base_url},
            transport=ghl_transport,
            token_store=tokens,
        )
        # As `flows.service.build_engine` wires it, plus the base URL and transport seams.
        runner = ActionRunner()
        if runner.connections is None:  # http and clickbank steps read the same store
            runner.connections = connections
        engine = FlowEngine(
            FlowStore(db), effective, clients, settings=engine_settings, runner=runner
        )
    else:
        for recipe in effective:
            if recipe.enabled:
                engine.enable(recipe)
            else:
                engine.disable(recipe.name)
    oauth_apps = OAuthAppStore(db, vault)
    _bootstrap_oauth_app(settings, oauth_apps)
    return Services(
        settings=settings,
        db=db,
        vault=vault,
        connections=connections,
        tokens=tokens,
        flow_store=engine.store,
        engine=engine,
        recipes={r.name: r for r in effective},
        problems=list(problems),
        verifier=WebhookVerifier.from_keys(
            settings.webhook_ed25519_key,
            settings.webhook_rsa_key,
            ed25519_source=ED25519_KEY_ENV,
            rsa_source=RSA_KEY_ENV,
        ),
        admin=AdminCredentials(db),
        oauth_apps=oauth_apps,
        installations=Installations(db, connections, tokens),
        hook_secrets=HookSecrets(db, vault),
        switches=switches,
        limiter=SourceLimiter(settings.webhook_rate_limit, settings.rate_limit_storage),
        ghl_transport=ghl_transport,
    )


def _bootstrap_oauth_app(settings: ServerSettings, store: OAuthAppStore) -> None:
    """Move an OAuth app given through the environment into the store (secret encrypted)."""
    client_id = settings.oauth_client_id
    if not client_id:
        return
    current = store.get()
    secret = settings.oauth_client_secret
    if secret:
        if (
            current is None
            or current.client_id != client_id
            or current.client_secret() != secret
            or (settings.oauth_scopes and current.scopes != settings.oauth_scopes)
        ):
            scopes = settings.oauth_scopes or (current.scopes if current else ())
            store.put(client_id, secret, scopes)
        return
    if current is not None and current.client_id == client_id:
        if settings.oauth_scopes and current.scopes != settings.oauth_scopes:
            store.put(client_id, current.client_secret(), settings.oauth_scopes)
        return
    log.warning(
        "OAuth client id %s is set but no client secret is stored for it; set it with "
        "PUT /api/oauth/app (or GHLBRIDGE_OAUTH_CLIENT_SECRET once)",
        client_id,
    )


__all__ = ["Services", "TransportFactory", "build_services"]
