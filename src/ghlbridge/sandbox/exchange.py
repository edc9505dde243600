"""The values one request passes through the sandbox: in, checked call, handler reply, out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ghlbridge.catalog import Operation
from ghlbridge.sandbox.auth import check_location
from ghlbridge.sandbox.errors import SandboxError, no_location_access
from ghlbridge.sandbox.faker import FakeRequest, SchemaFaker
from ghlbridge.sandbox.settings import SandboxSettings
from ghlbridge.sandbox.shapes import deep_merge
from ghlbridge.sandbox.state import LocationState, Record, ResourceSpec, World
from ghlbridge.sandbox.tokens import Token, TokenRegistry


@dataclass(frozen=True, slots=True)
class SandboxRequest:
    """A framework-free HTTP request; header names are lower-case."""

    method: str
    raw_path: str
    query_string: str = ""
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    base_url: str = "http://sandbox"


@dataclass(slots=True)
class SandboxResponse:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass(slots=True)
class Reply:
    """A handler's answer: status and a JSON-able body (None means no body)."""

    status: int
    body: Any


@dataclass(slots=True)
class Call:
    """A routed, authorized and validated request, with the services a handler may use."""

    op: Operation
    path_params: dict[str, str]
    query: dict[str, Any]
    body: Any
    token: Token | None
    location_id: str | None
    company_id: str | None
    url: str
    world: World
    tokens: TokenRegistry
    faker: SchemaFaker
    settings: SandboxSettings
    counter: int = 0

    def arg(self, name: str, default: Any = None) -> Any:
        """A value from the path, then the query, then the body."""
        if name in self.path_params:
            return self.path_params[name]
        if name in self.query:
            return self.query[name]
        if isinstance(self.body, Mapping) and name in self.body:
            return self.body[name]
        return default

    @property
    def json(self) -> dict[str, Any]:
        return self.body if isinstance(self.body, dict) else {}

    def location(self) -> LocationState:
        """The location this call acts on; 403 when the call names none the token reaches."""
        loc = self.world.location(self.location_id)
        if loc is None:
            raise no_location_access()
        return loc

    def find(
        self, spec: ResourceSpec, record_id: str, missing: str
    ) -> tuple[LocationState, Record]:
        """A record by id wherever it lives; 403 if the token cannot reach it, else not-found."""
        found = self.world.find(spec, record_id)
        if found is None:
            raise self.not_found(missing)
        check_location(self.token, found[0].id, self.world)
        return found

    def not_found(self, message: str) -> SandboxError:
        """GHL answers 404 where the spec declares one for the op, else 400."""
        if 404 in self.op.error_statuses:
            return SandboxError(404, message, "Not Found")
        return SandboxError(400, message, "Bad Request")

    def ok(self, body: Any) -> Reply:
        return Reply(self.op.response.status, body)

    def fake_request(self) -> FakeRequest:
        params = {**self.query, **self.path_params}
        return FakeRequest(
            params=params,
            body=self.body,
            location_id=self.location_id,
            company_id=self.company_id,
            url=self.url,
            counter=self.counter,
            path_params=self.path_params,
        )

    def trace_id(self) -> str:
        """A request-unique, seed-stable trace id (GHL returns one on some answers)."""
        rng = self.faker.rng("trace", self.op.id, self.counter)
        return str(uuid.UUID(int=rng.getrandbits(128), version=4))

    def faked(self, overlay: Mapping[str, Any] | None = None) -> Reply:
        """The schema-faked answer, with `overlay` merged over it."""
        body = self.faker.response(self.op, self.fake_request())
        if overlay:
            body = deep_merge(body, overlay)
        return self.ok(body)


Handler = Callable[[Call], Reply]
"""Serves one catalog operation from real state; ops without one are schema-faked."""
