"""The catalog's data model: one `Operation` per GHL endpoint, loaded from the generated file.

The generated JSON (``data/catalog.json``) holds plain dicts; these frozen dataclasses give the
client, sandbox, CLI, flow engine and MCP typed access without repeating endpoint knowledge.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Schema = dict[str, Any]
ParamLocation = Literal["path", "query", "header"]
TokenType = Literal["location", "agency", "either", "none"]
Kind = Literal["read", "write"]


@dataclass(frozen=True, slots=True)
class Param:
    """A path, query or header parameter (the `Version` and `Authorization` headers excluded)."""

    name: str
    location: ParamLocation
    required: bool
    schema: Schema

    @property
    def type(self) -> str:
        return str(self.schema.get("type", "string"))

    @property
    def enum(self) -> list[Any] | None:
        values = self.schema.get("enum")
        if values is None and isinstance(self.schema.get("items"), dict):
            values = self.schema["items"].get("enum")
        return list(values) if values is not None else None

    @property
    def default(self) -> Any:
        return self.schema.get("default")


@dataclass(frozen=True, slots=True)
class Body:
    """The request body: its content type and its schema with every `$ref` resolved."""

    content_type: str
    required: bool
    schema: Schema


@dataclass(frozen=True, slots=True)
class Paging:
    """How a list operation pages.

    ``style`` is one of: ``skip_limit``, ``offset_limit``, ``page``, ``start_after``,
    ``start_after_date``, ``search_after``, ``cursor``, ``last_id``, ``next_token``.
    ``params`` maps roles (``skip``, ``offset``, ``limit``, ``page``, ``cursor``, ``start_after``,
    ``start_after_id``, ``search_after``, ``last_id``, ``next``) to the real parameter names;
    ``in_body`` is true when those names live in the JSON body instead of the query.
    """

    style: str
    params: dict[str, str]
    in_body: bool = False
    max_limit: int | None = None
    default_limit: int | None = None


@dataclass(frozen=True, slots=True)
class Response:
    """The success response: status, schema, and where a list response keeps its items."""

    status: int
    schema: Schema | None
    items: str | None = None
    total: str | None = None


@dataclass(frozen=True, slots=True)
class Operation:
    id: str
    app: str
    spec_operation_id: str
    summary: str
    method: str
    path: str
    params: tuple[Param, ...]
    body: Body | None
    response: Response
    scopes: tuple[str, ...]
    token_type: TokenType
    oauth_only: bool
    version: str | None
    version_v3: str | None
    paging: Paging | None
    kind: Kind
    deprecated: bool
    error_statuses: tuple[int, ...] = field(default=())

    def param(self, name: str) -> Param | None:
        for p in self.params:
            if p.name == name:
                return p
        return None

    @property
    def path_params(self) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.location == "path")

    @property
    def is_list(self) -> bool:
        """True when the response carries a list of items (a polling-trigger candidate)."""
        return self.kind == "read" and self.response.items is not None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Operation:
        body = d.get("body")
        paging = d.get("paging")
        resp = d["response"]
        return cls(
            id=d["id"],
            app=d["app"],
            spec_operation_id=d["spec_operation_id"],
            summary=d.get("summary", ""),
            method=d["method"],
            path=d["path"],
            params=tuple(
                Param(p["name"], p["in"], bool(p.get("required")), p.get("schema") or {})
                for p in d.get("params", [])
            ),
            body=Body(body["content_type"], bool(body.get("required")), body.get("schema") or {})
            if body
            else None,
            response=Response(
                int(resp["status"]), resp.get("schema"), resp.get("items"), resp.get("total")
            ),
            scopes=tuple(d.get("scopes", [])),
            token_type=d["token_type"],
            oauth_only=bool(d.get("oauth_only")),
            version=d.get("version"),
            version_v3=d.get("version_v3"),
            paging=Paging(
                paging["style"],
                dict(paging["params"]),
                bool(paging.get("in_body")),
                paging.get("max_limit"),
                paging.get("default_limit"),
            )
            if paging
            else None,
            kind=d["kind"],
            deprecated=bool(d.get("deprecated")),
            error_statuses=tuple(d.get("error_statuses", [])),
        )
