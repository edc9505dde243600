"""`Sandbox`: one offline GHL, and the one path every request takes through it.

`handle` runs, in order: injected latency; an injected dropped connection; token look-up;
the rate limit of the token's (app, resource), whose headers go on every answer; an injected
429 burst or 5xx; routing; bearer check; `Version`; body parsing; token class, scope and
location access; validation; then the op's state handler, or the schema faker for ops
without one; last, an injected timeout holds the answer. Every refusal is a `SandboxError`
rendered once. Data changes raise GHL webhook events (`webhooks`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from ghlbridge.catalog import Catalog, load_catalog
from ghlbridge.sandbox.auth import (
    authorize,
    bearer,
    check_version,
    named_resources,
    require_token,
)
from ghlbridge.sandbox.errors import SandboxError, route_not_found, too_many_requests
from ghlbridge.sandbox.exchange import Call, Handler, Reply, SandboxRequest, SandboxResponse
from ghlbridge.sandbox.faker import SchemaFaker
from ghlbridge.sandbox.faults import ClientGone, FaultInjector
from ghlbridge.sandbox.handlers import HANDLERS, SEEDERS
from ghlbridge.sandbox.ids import IdFactory
from ghlbridge.sandbox.ratelimit import RateLimiter
from ghlbridge.sandbox.router import RouteTable, route_table
from ghlbridge.sandbox.seed import SeedReport, seed_agency
from ghlbridge.sandbox.settings import SandboxSettings
from ghlbridge.sandbox.state import Change, Clock, LocationState, World
from ghlbridge.sandbox.tokens import OAuthClient, Token, TokenRegistry
from ghlbridge.sandbox.validation import parse_body, parse_query, validate_request
from ghlbridge.sandbox.webhooks import Webhooks
from ghlbridge.sandbox.webhooks.events import install_payload, uninstall_payload

JSON_CONTENT_TYPE = "application/json; charset=utf-8"
_LOCATION_CREATE = ("locations", "create")
log = logging.getLogger(__name__)


class Sandbox:
    """Settings, data, tokens, limits and faults of one sandbox, and its request path.

    Attributes scripts and tests use: `location_id`, `company_id`, `location_token` and
    `agency_token` (PITs with every scope), `oauth_client` (id and secret of the sandbox's
    marketplace app), `world` (the data), `tokens`, `limiter`, `faults`, `webhooks` (URLs,
    events, deliveries, signing keys) and `seed_report` (with `settings.seed_data`).
    Call `close()` when done (it stops the webhook sender's thread, if one started).
    """

    def __init__(
        self,
        settings: SandboxSettings | None = None,
        *,
        catalog: Catalog | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        handlers: Mapping[str, Handler] | None = None,
    ) -> None:
        self.settings = settings = settings or SandboxSettings()
        self.catalog = catalog or load_catalog()
        self.routes: RouteTable = route_table(self.catalog)
        self.handlers: dict[str, Handler] = dict(HANDLERS if handlers is None else handlers)
        unknown = sorted(op_id for op_id in self.handlers if op_id not in self.catalog)
        if unknown:
            raise ValueError(f"handlers for operations the catalog does not hold: {unknown}")
        self.all_scopes = frozenset(scope for op in self.catalog for scope in op.scopes)
        boot = IdFactory(settings.seed, "bootstrap")
        self.company_id = settings.company_id or boot.new_id()
        self.location_id = settings.location_id or boot.new_id()
        self.world = World(
            self.company_id,
            IdFactory(settings.seed, "records"),
            Clock(clock),
            seeders=SEEDERS,
            demo_records=settings.demo_records,
        )
        self.tokens = TokenRegistry(
            IdFactory(settings.seed, "tokens"),
            access_token_ttl=settings.access_token_ttl,
            clock=clock,
        )
        self.oauth_client: OAuthClient = self.tokens.register_client(
            settings.oauth_client_id, settings.oauth_client_secret
        )
        self.app_version_id = boot.new_hex_id()
        self._install_ids = IdFactory(settings.seed, "installs")
        self.webhooks = Webhooks(settings, self.world, clock=clock)
        with self.webhooks.muted():  # the starting data raises no events
            self.world.add_location(self.location_id, "Sandbox Location")
            self.location_token: Token = self.tokens.create_pit(
                company_id=self.company_id,
                location_id=self.location_id,
                scopes=self.all_scopes,
                value=settings.token,
            )
            self.agency_token: Token = self.tokens.create_pit(
                company_id=self.company_id,
                location_id=None,
                scopes=self.all_scopes,
                value=settings.agency_token,
            )
            self.seed_report: SeedReport | None = (
                seed_agency(
                    self, locations=settings.seed_locations, contacts=settings.seed_contacts
                )
                if settings.seed_data
                else None
            )
        self.limiter = RateLimiter(settings.rate_limit, settings.daily_limit, clock=monotonic)
        self.faker = SchemaFaker(settings.seed, list_size=settings.fake_list_size)
        self.faults = FaultInjector(
            seed=settings.seed,
            latency_ms=settings.latency_ms,
            fault_rate=settings.fault_rate,
            timeout_rate=settings.timeout_rate,
            timeout_seconds=settings.timeout_seconds,
            drop_rate=settings.drop_rate,
            burst_429=settings.burst_429,
        )
        self._write_counts: dict[str, int] = {}

    def add_location(
        self, location_id: str | None = None, name: str | None = None, *, token: str | None = None
    ) -> tuple[LocationState, Token]:
        """Another sub-account of the sandbox's company, with a PIT holding every scope.

        Raises GHL's ``LocationCreate`` event (but none for the demo data seeders put in it).
        """
        created: list[Change] = []
        stop = self.world.subscribe(
            lambda c: created.append(c) if (c.resource, c.action) == _LOCATION_CREATE else None
        )
        try:
            with self.webhooks.muted():  # its demo data is no news
                loc = self.world.add_location(location_id, name)
        finally:
            stop()
        pit = self.tokens.create_pit(
            company_id=self.company_id, location_id=loc.id, scopes=self.all_scopes, value=token
        )
        if not created:  # no resource module keeps locations as records
            record = {"id": loc.id, "companyId": loc.company_id, "name": loc.name}
            created.append(Change("locations", "create", loc.id, record))
        self.webhooks.on_change(created[0])
        return loc, pit

    def install(
        self,
        location_id: str | None = None,
        *,
        client: OAuthClient | None = None,
        agency: bool = False,
    ) -> dict[str, Any]:
        """Raise GHL's ``INSTALL`` event for the app (default: the sandbox's) on a location
        (default: the first) or, with `agency`, on the company; returns the payload."""
        app = client or self.oauth_client
        payload = install_payload(
            app_id=app.app_id,
            company_id=self.company_id,
            location_id=None if agency else (location_id or self.location_id),
            user_id=self._install_ids.new_id(),
            company_name="Sandbox Agency",
            version_id=self.app_version_id,
        )
        return self.webhooks.publish(payload).payload

    def uninstall(
        self,
        location_id: str | None = None,
        *,
        client: OAuthClient | None = None,
        agency: bool = False,
    ) -> dict[str, Any]:
        """Revoke the app's OAuth access tokens there and raise GHL's ``UNINSTALL`` event."""
        app = client or self.oauth_client
        where = None if agency else (location_id or self.location_id)
        for token in list(self.tokens.tokens()):
            if token.kind == "oauth" and token.app_id == app.app_id and token.location_id == where:
                self.tokens.revoke(token.value)
        payload = uninstall_payload(
            app_id=app.app_id, company_id=self.company_id, location_id=where
        )
        return self.webhooks.publish(payload).payload

    def close(self) -> None:
        """Stop background work (the webhook sender); the data stays readable."""
        self.webhooks.close()

    def location(self, location_id: str | None = None) -> LocationState:
        """A location's data (default: the sandbox's first location)."""
        loc = self.world.location(location_id or self.location_id)
        if loc is None:
            raise KeyError(location_id)
        return loc

    # -- the request path -----------------------------------------------------------------
    async def handle(
        self, request: SandboxRequest, *, client_gone: ClientGone | None = None
    ) -> SandboxResponse:
        """Answer one request. Raises `ConnectionDroppedFault` when a drop is injected;
        `client_gone` (served over a socket) lets an injected timeout end when the client
        leaves."""
        await self.faults.delay()
        self.faults.maybe_drop()
        token = self.tokens.lookup(bearer(request.headers.get("authorization")))
        budget = self.limiter.hit(token.app_id, token.resource_id) if token else self.limiter.idle()
        in_burst = self.faults.maybe_burst()
        try:
            if not budget.allowed or in_burst:
                raise too_many_requests()
            self.faults.maybe_fail()
            reply = self._dispatch(request, token)
        except SandboxError as exc:
            reply = Reply(exc.status, exc.body())
        except Exception:  # a sandbox bug must still answer like GHL would: a 500
            log.exception("sandbox failed on %s %s", request.method, request.raw_path)
            reply = Reply(500, {"statusCode": 500, "message": "Internal Server Error"})
        headers = budget.headers()
        if in_burst:
            headers["X-RateLimit-Remaining"] = "0"
        response = _render(reply, headers)
        if self.faults.stalls():
            await self.faults.stall(client_gone)
        return response

    def _dispatch(self, request: SandboxRequest, token: Token | None) -> Reply:
        match = self.routes.match(request.method, request.raw_path)
        if match is None:
            raise route_not_found(request.method.upper(), unquote(request.raw_path))
        op = match.op
        require_token(op, token)
        check_version(op, request.headers.get("version"))
        query = parse_query(request.query_string)
        body, form_body = (
            parse_body(request.headers.get("content-type"), request.body)
            if op.body is not None
            else (None, False)
        )
        named = named_resources(match.path_params, query, body)
        resources = authorize(op, token, named, self.world)
        values, body = validate_request(op, match.path_params, query, body, form_body=form_body)
        counter = 0
        if op.kind == "write":
            counter = self._write_counts[op.id] = self._write_counts.get(op.id, 0) + 1
        call = Call(
            op=op,
            path_params=match.path_params,
            query=values,
            body=body,
            token=token,
            location_id=resources.location_id,
            company_id=resources.company_id,
            url=request.base_url.rstrip("/") + request.raw_path,
            world=self.world,
            tokens=self.tokens,
            faker=self.faker,
            settings=self.settings,
            counter=counter,
        )
        handler = self.handlers.get(op.id)
        return handler(call) if handler is not None else call.faked()


def _render(reply: Reply, headers: dict[str, str]) -> SandboxResponse:
    out = dict(headers)
    if reply.body is None or reply.status == 204:
        return SandboxResponse(reply.status, b"", out)
    out["Content-Type"] = JSON_CONTENT_TYPE
    return SandboxResponse(reply.status, _dumps(reply.body), out)


def _dumps(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False, default=str).encode()
