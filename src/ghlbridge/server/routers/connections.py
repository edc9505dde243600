"""``/api/connections``: store a GHL Private Integration Token, test, list and remove
connections. Secrets go in (encrypted at rest) and never come out."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, Field, SecretStr

from ghlbridge.server.connection_check import check_connection
from ghlbridge.server.deps import AdminDep, ServicesDep
from ghlbridge.store import Connection, ConnectionExistsError, ConnectionNotFoundError

router = APIRouter(prefix="/api/connections", tags=["connections"], dependencies=[AdminDep])

NAME = r"^[a-z0-9_-]{1,64}$"
ID = r"^[A-Za-z0-9_.:-]{1,64}$"
SCOPE = r"^\S{1,128}$"
NamePath = Path(pattern=NAME, description="Connection name")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such connection"}}


class ConnectionIn(BaseModel):
    """A GHL Private Integration Token of a location (or an agency)."""

    name: str = Field(pattern=NAME, description="a-z, 0-9, _ and -")
    token: SecretStr = Field(min_length=1, max_length=4096, description="The PIT (write-only)")
    location_id: str | None = Field(default=None, pattern=ID)
    company_id: str | None = Field(default=None, pattern=ID)
    scopes: list[str] = Field(
        default_factory=list,
        max_length=300,
        description="The scopes the PIT was given (GHL cannot be asked).",
    )


class ConnectionOut(BaseModel):
    name: str
    provider: str
    auth_type: str
    location_id: str | None
    company_id: str | None
    scopes: list[str]
    created_at: datetime
    updated_at: datetime


class ConnectionTest(BaseModel):
    ok: bool
    connection: str
    provider: str
    auth_type: str
    location_id: str | None
    location_name: str | None
    company_id: str | None
    scopes: list[str]
    scopes_source: str = Field(description="token (granted), declared (PIT), or unknown")
    error: str | None


def _out(conn: Connection) -> ConnectionOut:
    return ConnectionOut(
        name=conn.name,
        provider=conn.provider,
        auth_type=conn.auth_type,
        location_id=conn.location_id,
        company_id=conn.company_id,
        scopes=list(conn.scopes),
        created_at=conn.created_at,
        updated_at=conn.updated_at,
    )


@router.get("", response_model=list[ConnectionOut], summary="Stored connections (no secrets)")
def list_connections(services: ServicesDep) -> list[ConnectionOut]:
    return [_out(c) for c in services.connections.list()]


@router.post(
    "",
    status_code=201,
    response_model=ConnectionOut,
    responses={409: {"description": "The name is taken"}, 422: {"description": "Invalid"}},
    summary="Store a GHL Private Integration Token (encrypted)",
)
def create_connection(body: ConnectionIn, services: ServicesDep) -> ConnectionOut:
    token = body.token.get_secret_value()
    if any(not s or any(c.isspace() for c in s) for s in body.scopes):
        raise HTTPException(status_code=422, detail="scopes: a scope is one word")
    try:
        conn = services.connections.add(
            body.name,
            "ghl",
            "pit",
            {"token": token},
            location_id=body.location_id,
            company_id=body.company_id,
            scopes=body.scopes,
        )
    except ConnectionExistsError as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    except ValueError as exc:  # names the field, never the token
        raise HTTPException(status_code=422, detail=str(exc)) from None
    services.learn_secrets([token])
    return _out(conn)


@router.get("/{name}", response_model=ConnectionOut, responses=_NOT_FOUND, summary="One connection")
def get_connection(services: ServicesDep, name: str = NamePath) -> ConnectionOut:
    try:
        return _out(services.connections.get(name))
    except ConnectionNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


@router.post(
    "/{name}/test",
    response_model=ConnectionTest,
    responses=_NOT_FOUND,
    summary="Call a cheap GHL read with the connection; report its location and scopes",
)
async def run_connection_test(services: ServicesDep, name: str = NamePath) -> ConnectionTest:
    try:
        result = await check_connection(services, name)
    except ConnectionNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return ConnectionTest(**asdict(result))


@router.delete(
    "/{name}",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Remove a connection and its tokens",
)
def remove_connection(services: ServicesDep, name: str = NamePath) -> Response:
    try:
        services.connections.remove(name)
    except ConnectionNotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    return Response(status_code=204)


__all__ = ["router"]
