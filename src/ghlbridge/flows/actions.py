"""What a step's `action:` names, and how it is performed.

An action is one of:

- a catalog operation id (``contacts.create_contact``);
- a curated action name (``add_tags_to_contact``), i.e. an operation plus defaults filled
  from the connection;
- ``http.request``: a minimal outbound HTTP call (method, url, headers, json/body) for
  sending data to another app. It sends the step's idempotency key as ``Idempotency-Key``.
  The generic HTTP connector (auth presets, more options) is a later issue;
- later, another connector's action (``<connector>.<action>``): connectors register here.

Whether an action may be sent again after an unknown outcome is decided here
(`ActionSpec.idempotent`): reads and GET/PUT/DELETE are; an upsert is; ``http.request`` is,
because the receiver gets the same Idempotency-Key; a GHL create with an upsert twin is
re-sent as the upsert. Anything else is left for review rather than duplicated.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Mapping
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
from ghlbridge.client.transport import AiohttpTransport, HttpRequest, Transport
from ghlbridge.flows.customfields import CustomFieldResolver, UnknownCustomFieldError

HTTP_ACTION = "http.request"
HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_SAFE_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})

# GHL writes that are safe to repeat, and creates whose upsert twin is used when a create
# must be sent again. (Per-endpoint knowledge: to move into curated.yaml with its owner.)
IDEMPOTENT_WRITES = frozenset(
    {"contacts.upsert_contact", "contacts.add_tags", "contacts.remove_tags"}
)
UPSERT_TWINS = {"contacts.create_contact": "contacts.upsert_contact"}


class UnknownActionError(LookupError):
    def __init__(self, name: str, suggestions: list[str]) -> None:
        hint = f" (did you mean {', '.join(suggestions)}?)" if suggestions else ""
        super().__init__(
            f"unknown action {name!r}: not a catalog operation, a curated action or "
            f"{HTTP_ACTION}{hint}"
        )


class StepError(Exception):
    """A step's action failed. `retryable`: trying again may help; `unknown_outcome`: the
    other side may have acted before the failure."""

    def __init__(
        self, message: str, *, retryable: bool = False, unknown_outcome: bool = False
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.unknown_outcome = unknown_outcome


@dataclass(frozen=True)
class ActionSpec:
    name: str
    kind: Literal["ghl", "http"]
    op: Operation | None = None
    curated: CuratedOperation | None = None

    @property
    def is_write(self) -> bool:
        if self.op is not None:
            return self.op.kind == "write"
        return True

    def idempotent(self, inputs: Mapping[str, Any] | None = None) -> bool:
        """Whether sending it twice has the effect of sending it once."""
        if self.op is not None:
            return (
                self.op.kind == "read"
                or self.op.method in _SAFE_METHODS
                or self.op.id in IDEMPOTENT_WRITES
                or self.op.id in UPSERT_TWINS
            )
        method = str((inputs or {}).get("method") or "POST").upper()
        uses_key = (inputs or {}).get("idempotency_key", True) is not False
        return method in _SAFE_METHODS or uses_key


def resolve_action(name: str, catalog: Catalog, curated: Curated) -> ActionSpec:
    if name == HTTP_ACTION:
        return ActionSpec(name, "http")
    if name in catalog:
        return ActionSpec(name, "ghl", op=catalog.get(name))
    if name in curated:
        entry = curated.get(name)
        return ActionSpec(name, "ghl", op=catalog.get(entry.op_id), curated=entry)
    names = [HTTP_ACTION, *(e.name for e in curated.actions())]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    if "." in name:  # looks like an operation id: suggest operations first
        try:
            catalog.get(name)
        except UnknownOperationError as exc:
            close = exc.suggestions or close
    raise UnknownActionError(name, close)


@dataclass
class DryRunLog:
    """The writes a dry run would have made, in order."""

    writes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class ActionRunner:
    """Performs actions for the executor: GHL calls through a client, HTTP requests."""

    custom_fields: CustomFieldResolver = field(default_factory=CustomFieldResolver)
    http: Transport = field(default_factory=lambda: AiohttpTransport(timeout=30.0))
    dry_run: DryRunLog | None = None

    async def perform(
        self,
        spec: ActionSpec,
        inputs: dict[str, Any],
        *,
        client: GHLClient | None,
        connection: Mapping[str, Any],
        idempotency_key: str,
        resend: bool = False,
    ) -> Any:
        """Run the action; `resend` is True when an earlier try's outcome is unknown."""
        if spec.kind == "http":
            return await self._http(inputs, idempotency_key)
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
        if resend and op.id in UPSERT_TWINS:
            op = client.catalog.get(UPSERT_TWINS[op.id])
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
            safe = spec.idempotent() or op.id in IDEMPOTENT_WRITES
            raise _step_error(spec.name, exc, safe=safe) from None

    async def _http(self, inputs: dict[str, Any], idempotency_key: str) -> Any:
        method = str(inputs.get("method") or "POST").upper()
        if method not in HTTP_METHODS:
            raise StepError(f"{HTTP_ACTION}: method {method!r} is not one of {HTTP_METHODS}")
        url = inputs.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise StepError(f"{HTTP_ACTION}: url must be an http(s) URL")
        headers = {str(k): str(v) for k, v in (inputs.get("headers") or {}).items()}
        body: bytes | None = None
        if "json" in inputs:
            body = json.dumps(inputs["json"], ensure_ascii=False).encode("utf-8")
            headers.setdefault("Content-Type", "application/json")
        elif inputs.get("body") is not None:
            raw = inputs["body"]
            body = raw.encode("utf-8") if isinstance(raw, str) else json.dumps(raw).encode()
        if inputs.get("idempotency_key", True) is not False:
            headers.setdefault("Idempotency-Key", idempotency_key)
        if self.dry_run is not None and method not in ("GET", "HEAD"):
            planned = {
                "action": HTTP_ACTION,
                "method": method,
                "url": url,
                "headers": headers,
                "json": inputs.get("json"),
                "body": inputs.get("body"),
            }
            self.dry_run.writes.append(planned)
            return {"dry_run": True, "would_send": planned}
        timeout = float(inputs.get("timeout") or 30.0)
        try:
            response = await self.http.send(HttpRequest(method, url, headers, body, timeout))
        except TransportError as exc:
            raise StepError(
                f"{HTTP_ACTION} {method} {url}: {exc}",
                retryable=True,
                unknown_outcome=not isinstance(exc, ConnectError),
            ) from None
        text = response.body.decode("utf-8", errors="replace")
        try:
            data: Any = json.loads(text) if text else None
        except ValueError:
            data = text
        result = {"status": response.status, "body": data}
        if response.status >= 400:
            raise StepError(
                f"{HTTP_ACTION} {method} {url}: HTTP {response.status}",
                retryable=response.status in (408, 425, 429) or response.status >= 500,
            )
        return result


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
    "HTTP_ACTION",
    "ActionRunner",
    "ActionSpec",
    "DryRunLog",
    "StepError",
    "UnknownActionError",
    "resolve_action",
]
