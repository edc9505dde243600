"""What a step's `action:` names, and how it is performed.

An action is one of:

- a catalog operation id (``contacts.create_contact``);
- a curated action name (``add_tags_to_contact``), i.e. an operation plus defaults filled
  from the connection;
- ``http.request``: a call to another app, through a stored ``http`` connection (base URL,
  auth preset, SSRF policy) with a templated path, query, headers and body and a response
  mapping, or to a plain ``url``;
- ``webhook.send``: a JSON event POSTed to a receiver, signed with HMAC-SHA256 over the
  timestamp and body;
- ``clickbank.<action>``: a ClickBank REST API call (``clickbank.orders.get``, ...), one of
  the rows of `ghlbridge.connectors.clickbank.ENDPOINTS`.

The connector actions are performed by `connector_actions.ConnectorActions`.

Whether an action may be sent again after an unknown outcome is decided here
(`ActionSpec.idempotent`): reads and GET/PUT/DELETE are; so are the GHL writes the curated
layer lists as idempotent (an upsert, tag add/remove); ``http.request`` is, because the
receiver gets the same Idempotency-Key; ``webhook.send`` is (same delivery id); a GHL create
with an upsert twin is re-sent as the upsert. Anything else is left for review rather than
duplicated.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from ghlbridge.catalog import Catalog, Operation, UnknownOperationError
from ghlbridge.catalog.curated import (
    Curated,
    CuratedOperation,
    resolve_defaults,
    split_params_body,
)
from ghlbridge.client import GHLClient
from ghlbridge.client.errors import (
    APIError,
    ConnectError,
    GHLError,
    RateLimitError,
    RequestTimeout,
    ServerError,
    TransportError,
    ValidationError,
)
from ghlbridge.client.transport import Transport
from ghlbridge.connectors.clickbank.endpoints import ENDPOINTS, Endpoint
from ghlbridge.flows.connector_actions import (
    CLICKBANK_PREFIX,
    HTTP_ACTION,
    HTTP_METHODS,
    WEBHOOK_ACTION,
    AppConnections,
    ConnectorActions,
    StepError,
    url_transport,
)
from ghlbridge.flows.connector_actions import input_problems as _connector_input_problems
from ghlbridge.flows.customfields import CustomFieldResolver, UnknownCustomFieldError

_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})
ActionKind = Literal["ghl", "http", "webhook", "clickbank"]


class UnknownActionError(LookupError):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(
            f"unknown action {name!r}: not a catalog operation, a curated action, "
            f"{HTTP_ACTION}, {WEBHOOK_ACTION} or {CLICKBANK_PREFIX}<action>{hint}"
        )


@dataclass(frozen=True)
class ActionSpec:
    name: str
    kind: ActionKind
    op: Operation | None = None
    curated: CuratedOperation | None = None
    endpoint: Endpoint | None = None
    idempotent_write: bool = False
    upsert_twin: str | None = None

    @property
    def is_write(self) -> bool:
        if self.op is not None:
            return self.op.kind == "write"
        if self.endpoint is not None:
            return self.endpoint.kind == "write"
        return True

    def idempotent(self, inputs: Mapping[str, Any] | None = None) -> bool:
        """Whether sending it twice has the effect of sending it once."""
        if self.op is not None:
            return (
                self.op.kind == "read"
                or self.op.method in _SAFE_METHODS
                or self.idempotent_write
                or self.upsert_twin is not None
            )
        if self.endpoint is not None:
            return self.endpoint.kind == "read" or self.endpoint.method in _SAFE_METHODS
        if self.kind == "webhook":
            return True  # every try carries the same delivery id
        method = str((inputs or {}).get("method") or "POST").upper()
        uses_key = (inputs or {}).get("idempotency_key", True) is not False
        return method in _SAFE_METHODS or uses_key


def resolve_action(name: str, catalog: Catalog, curated: Curated) -> ActionSpec:
    if name == HTTP_ACTION:
        return ActionSpec(name, "http")
    if name == WEBHOOK_ACTION:
        return ActionSpec(name, "webhook")
    if name.startswith(CLICKBANK_PREFIX):
        endpoint = ENDPOINTS.get(name.removeprefix(CLICKBANK_PREFIX))
        if endpoint is not None:
            return ActionSpec(name, "clickbank", endpoint=endpoint)
        known = [CLICKBANK_PREFIX + a for a in ENDPOINTS]
        raise UnknownActionError(name, difflib.get_close_matches(name, known, n=3, cutoff=0.6))
    entry: CuratedOperation | None = None
    if name in catalog:
        op = catalog.get(name)
    elif name in curated:
        entry = curated.get(name)
        op = catalog.get(entry.op_id)
    else:
        names = [HTTP_ACTION, WEBHOOK_ACTION, *(e.name for e in curated.actions())]
        close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
        if "." in name:  # looks like an operation id: suggest operations first
            try:
                catalog.get(name)
            except UnknownOperationError as exc:
                close = exc.suggestions or close
        raise UnknownActionError(name, close)
    return ActionSpec(
        name,
        "ghl",
        op=op,
        curated=entry,
        idempotent_write=curated.is_idempotent_write(op.id),
        upsert_twin=curated.upsert_twin(op.id),
    )


def input_problems(
    spec: ActionSpec, with_: Mapping[str, Any], connection: str | None
) -> list[tuple[tuple[Any, ...], str]]:
    """Load-time problems of a step's ``with``/``connection`` (connector actions only)."""
    if spec.kind == "ghl":
        return []
    return _connector_input_problems(spec.kind, spec.endpoint, with_, connection)


@dataclass
class DryRunLog:
    """The writes a dry run would have made, in order."""

    writes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ActionRunner:
    """Performs actions for the executor: GHL calls through a client, connector calls.

    `connections` is where ``http``/``clickbank`` connections are looked up (the engine's
    connection store); `http` carries plain-``url`` requests (SSRF-guarded by default);
    `transport`, in tests only, replaces every connector transport.
    """

    custom_fields: CustomFieldResolver = field(default_factory=CustomFieldResolver)
    http: Transport = field(default_factory=url_transport)
    dry_run: DryRunLog | None = None
    connections: AppConnections | None = None
    transport: Callable[[], Transport] | None = None
    _connectors: ConnectorActions | None = field(default=None, init=False, repr=False)

    @property
    def connectors(self) -> ConnectorActions:
        if self._connectors is None:
            self._connectors = ConnectorActions(
                self.connections, url_transport=self.http, transport=self.transport
            )
        return self._connectors

    def secrets(self) -> list[str]:
        """Credentials of the connector connections used so far (for redaction)."""
        return self.connectors.secrets() if self._connectors is not None else []

    async def aclose(self) -> None:
        if self._connectors is not None:
            await self._connectors.aclose()
        await self.http.close()

    async def perform(
        self,
        spec: ActionSpec,
        inputs: dict[str, Any],
        *,
        client: GHLClient | None,
        connection: Mapping[str, Any],
        idempotency_key: str,
        resend: bool = False,
        app_connection: str | None = None,
    ) -> Any:
        """Run the action; `resend` is True when an earlier try's outcome is unknown;
        `app_connection` names the step's connector connection (http, clickbank)."""
        plan = self.dry_run.writes if self.dry_run is not None else None
        if spec.kind == "http":
            return await self.connectors.http_request(
                inputs, app_connection, idempotency_key, plan=plan
            )
        if spec.kind == "webhook":
            return await self.connectors.webhook_send(
                inputs, app_connection, idempotency_key, plan=plan
            )
        if spec.kind == "clickbank":
            assert spec.endpoint is not None
            return await self.connectors.clickbank(spec.endpoint, inputs, app_connection, plan=plan)
        assert spec.op is not None
        if client is None:
            raise StepError(f"{spec.name}: no GHL connection for this step")
        return await self._ghl(spec, inputs, client, connection, resend=resend)

    async def _ghl(
        self,
        spec: ActionSpec,
        inputs: dict[str, Any],
        client: GHLClient,
        connection: Mapping[str, Any],
        *,
        resend: bool,
    ) -> Any:
        assert spec.op is not None
        op = spec.op
        values = dict(inputs)
        if spec.curated is not None:
            values = {**resolve_defaults(spec.curated, connection), **values}
        custom = values.pop("custom_fields", None)
        if custom is not None:
            if not isinstance(custom, Mapping):
                raise StepError(f"{spec.name}: custom_fields must be a mapping of key: value")
            location = str(values.get("locationId") or connection.get("location_id") or "")
            if not location:
                raise StepError(f"{spec.name}: custom_fields needs the location id")
            try:
                resolved = await self.custom_fields.resolve(client, location, custom)
            except UnknownCustomFieldError as exc:
                raise StepError(f"{spec.name}: {exc}") from None
            except GHLError as exc:
                raise _step_error(spec.name, exc, safe=True) from None
            values["customFields"] = [*(values.get("customFields") or []), *resolved]
        if resend and spec.upsert_twin is not None:
            op = client.catalog.get(spec.upsert_twin)
        params, body = split_params_body(op, values)
        payload: Any = body if (body or op.body is not None) else None
        if self.dry_run is not None and op.kind == "write":
            planned = {
                "action": spec.name,
                "op": op.id,
                "method": op.method,
                "path": op.path,
                "params": params,
                "body": payload,
            }
            self.dry_run.writes.append(planned)
            return {"dry_run": True, "would_call": planned}
        try:
            return await client.call(op.id, params, payload)
        except GHLError as exc:
            raise _step_error(spec.name, exc, safe=spec.idempotent()) from None


def _step_error(name: str, exc: GHLError, *, safe: bool) -> StepError:
    """Sort a client error into retry / give up, and whether GHL may have acted."""
    text = str(exc)
    message = text if text.startswith(f"{name}:") else f"{name}: {text}"
    if isinstance(exc, ValidationError):
        return StepError(message)
    if isinstance(exc, RateLimitError):
        return StepError(message, retryable=True)
    if isinstance(exc, ServerError):
        return StepError(message, retryable=True, unknown_outcome=True)
    if isinstance(exc, APIError):
        return StepError(message, retryable=exc.status in (408, 409))
    if isinstance(exc, ConnectError):
        return StepError(message, retryable=True)
    if isinstance(exc, TransportError | RequestTimeout):
        return StepError(message, retryable=True, unknown_outcome=True)
    return StepError(message, retryable=safe)


__all__ = [
    "CLICKBANK_PREFIX",
    "HTTP_ACTION",
    "HTTP_METHODS",
    "WEBHOOK_ACTION",
    "ActionKind",
    "ActionRunner",
    "ActionSpec",
    "DryRunLog",
    "StepError",
    "UnknownActionError",
    "input_problems",
    "resolve_action",
]
