"""``/api/catalog``: every GHL operation, the curated triggers and actions, and the webhook
event types a flow can listen for, as ``ghlbridge ops`` shows them."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import BaseModel, Field

from ghlbridge.catalog import Catalog, Operation, UnknownOperationError, load_catalog
from ghlbridge.catalog.curated import Curated, load_curated
from ghlbridge.server.deps import AdminDep

router = APIRouter(prefix="/api/catalog", tags=["catalog"], dependencies=[AdminDep])


class OperationSummary(BaseModel):
    id: str
    app: str
    method: str
    path: str
    summary: str
    kind: str
    token_type: str
    scopes: list[str]
    deprecated: bool


class ParamOut(BaseModel):
    name: str
    location: str = Field(serialization_alias="in", description="path, query or header")
    required: bool
    schema_: dict[str, Any] = Field(serialization_alias="schema")


class BodyOut(BaseModel):
    content_type: str
    required: bool
    schema_: dict[str, Any] = Field(serialization_alias="schema")


class PagingOut(BaseModel):
    style: str
    params: dict[str, str]
    in_body: bool


class OperationDetail(OperationSummary):
    version: str | None
    oauth_only: bool
    params: list[ParamOut]
    body: BodyOut | None
    paging: PagingOut | None
    response_status: int
    response_items: str | None
    curated: list[str] = Field(description="Curated trigger/action names mapped onto it")


class CuratedOut(BaseModel):
    name: str
    title: str
    category: str
    kind: str
    op_id: str
    description: str


class WebhookEventOut(BaseModel):
    type: str
    name: str
    app: str
    scope: str | None


@lru_cache(maxsize=1)
def _catalogs() -> tuple[Catalog, Curated]:
    catalog = load_catalog()
    return catalog, load_curated(catalog)


def _summary(op: Operation) -> dict[str, Any]:
    return {
        "id": op.id,
        "app": op.app,
        "method": op.method,
        "path": op.path,
        "summary": op.summary,
        "kind": op.kind,
        "token_type": op.token_type,
        "scopes": list(op.scopes),
        "deprecated": op.deprecated,
    }


@router.get("/operations", response_model=list[OperationSummary], summary="GHL operations")
def list_operations(
    app: str | None = Query(default=None, max_length=64),
    kind: Literal["read", "write"] | None = Query(default=None),
    q: str | None = Query(default=None, max_length=200, description="Words to search for"),
    limit: int = Query(default=1000, ge=1, le=1000),
) -> list[OperationSummary]:
    catalog, _ = _catalogs()
    ops = catalog.search(q) if q else list(catalog)
    found = [
        op for op in ops if (app is None or op.app == app) and (kind is None or op.kind == kind)
    ]
    found.sort(key=lambda op: op.id)
    return [OperationSummary(**_summary(op)) for op in found[:limit]]


@router.get(
    "/operations/{op}",
    response_model=OperationDetail,
    responses={404: {"description": "Unknown operation"}},
    summary="One operation (by id or curated name): params, body schema, scopes, paging",
)
def show_operation(
    op: str = Path(pattern=r"^[A-Za-z0-9_.-]{1,160}$"),
) -> OperationDetail:
    catalog, curated = _catalogs()
    entry = None if op in catalog else curated.find(op)
    try:
        found = catalog.get(entry.op_id if entry else op)
    except UnknownOperationError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return OperationDetail(
        **_summary(found),
        version=found.version,
        oauth_only=found.oauth_only,
        params=[
            ParamOut(name=p.name, location=p.location, required=p.required, schema_=p.schema)
            for p in found.params
        ],
        body=None
        if found.body is None
        else BodyOut(
            content_type=found.body.content_type,
            required=found.body.required,
            schema_=found.body.schema,
        ),
        paging=None
        if found.paging is None
        else PagingOut(
            style=found.paging.style, params=found.paging.params, in_body=found.paging.in_body
        ),
        response_status=found.response.status,
        response_items=found.response.items,
        curated=[c.name for c in curated.by_op(found.id)],
    )


@router.get("/curated", response_model=list[CuratedOut], summary="Curated triggers and actions")
def list_curated(
    kind: Literal["trigger", "action"] | None = Query(default=None),
) -> list[CuratedOut]:
    _, curated = _catalogs()
    entries = curated.operations()
    return [
        CuratedOut(
            name=c.name,
            title=c.title,
            category=c.category,
            kind=c.kind,
            op_id=c.op_id,
            description=c.description,
        )
        for c in entries
        if kind is None or c.kind == kind
    ]


@router.get(
    "/webhook-events", response_model=list[WebhookEventOut], summary="GHL webhook event types"
)
def list_webhook_events() -> list[WebhookEventOut]:
    _, curated = _catalogs()
    return [
        WebhookEventOut(type=e.type, name=e.name, app=e.app, scope=e.scope)
        for e in curated.webhook_events()
    ]


__all__ = ["router"]
