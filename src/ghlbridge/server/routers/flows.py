"""``/api/flows``: the loaded recipes; switch them on and off, start one now, and set the HMAC
secret of a flow's inbound hook (write-only)."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Body, HTTPException, Path, Response
from pydantic import BaseModel, Field, SecretStr

from ghlbridge.flows.recipe import Recipe
from ghlbridge.server.deps import AdminDep, ServicesDep
from ghlbridge.server.flow_settings import MIN_SECRET_LENGTH
from ghlbridge.server.services import Services

router = APIRouter(prefix="/api/flows", tags=["flows"], dependencies=[AdminDep])
FlowPath = Path(pattern=r"^[a-z0-9_-]{1,128}$", description="Flow name")
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such flow"}}


class FlowOut(BaseModel):
    name: str
    description: str | None
    trigger: str
    event: str | None = Field(description="The GHL webhook event type, for webhook triggers")
    steps: list[str]
    connection: str | None
    enabled: bool
    hook: bool = Field(description="Whether POST /hooks/{name} is set up (has a secret)")


class FlowList(BaseModel):
    flows: list[FlowOut]
    problems: list[str] = Field(description="Recipes that could not be loaded, and why")


class RunNowIn(BaseModel):
    input: dict[str, Any] = Field(default_factory=dict, description="The trigger data")


class RunStarted(BaseModel):
    event_id: str | None
    run_ids: list[str]


class HookSecretIn(BaseModel):
    secret: SecretStr = Field(min_length=MIN_SECRET_LENGTH, max_length=1024)


def _out(services: Services, recipe: Recipe, hooks: set[str]) -> FlowOut:
    webhook = recipe.trigger.webhook
    return FlowOut(
        name=recipe.name,
        description=recipe.description,
        trigger=recipe.trigger.kind,
        event=webhook.event if webhook else None,
        steps=[s.id for s in recipe.steps],
        connection=recipe.connection,
        enabled=services.flow_enabled(recipe.name),
        hook=recipe.name in hooks,
    )


def _recipe(services: Services, name: str) -> Recipe:
    recipe = services.recipes.get(name)
    if recipe is None:
        raise HTTPException(status_code=404, detail=f"no flow named {name!r}")
    return recipe


@router.get("", response_model=FlowList, summary="Loaded flows (and recipes with problems)")
def list_flows(services: ServicesDep) -> FlowList:
    hooks = services.hook_secrets.flows()
    return FlowList(
        flows=[_out(services, r, hooks) for r in sorted(services.recipes.values(), key=_name)],
        problems=[str(p) for p in services.problems],
    )


def _name(recipe: Recipe) -> str:
    return recipe.name


@router.get("/{name}", response_model=FlowOut, responses=_NOT_FOUND, summary="One flow")
def get_flow(services: ServicesDep, name: str = FlowPath) -> FlowOut:
    return _out(services, _recipe(services, name), services.hook_secrets.flows())


@router.post(
    "/{name}/enable", response_model=FlowOut, responses=_NOT_FOUND, summary="Switch a flow on"
)
async def enable_flow(services: ServicesDep, name: str = FlowPath) -> FlowOut:
    recipe = _recipe(services, name)
    await services.set_flow_enabled(name, True)
    return _out(services, recipe, await asyncio.to_thread(services.hook_secrets.flows))


@router.post(
    "/{name}/disable",
    response_model=FlowOut,
    responses=_NOT_FOUND,
    summary="Switch a flow off (pending runs wait; runs in progress finish)",
)
async def disable_flow(services: ServicesDep, name: str = FlowPath) -> FlowOut:
    recipe = _recipe(services, name)
    await services.set_flow_enabled(name, False)
    return _out(services, recipe, await asyncio.to_thread(services.hook_secrets.flows))


@router.post(
    "/{name}/run",
    status_code=202,
    response_model=RunStarted,
    responses={**_NOT_FOUND, 409: {"description": "The flow is disabled"}},
    summary="Start a flow now with the given trigger data",
)
async def run_flow(
    services: ServicesDep,
    name: str = FlowPath,
    body: RunNowIn | None = Body(default=None),
) -> RunStarted:
    _recipe(services, name)
    if not services.flow_enabled(name):
        raise HTTPException(status_code=409, detail=f"flow {name!r} is disabled")
    try:
        accepted = await services.engine.start_manual(name, (body or RunNowIn()).input)
    except KeyError:
        raise HTTPException(status_code=409, detail=f"flow {name!r} is disabled") from None
    return RunStarted(event_id=accepted.event_id, run_ids=accepted.run_ids)


@router.put(
    "/{name}/hook-secret",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Set the HMAC secret of POST /hooks/{name} (stored encrypted, never shown)",
)
def put_hook_secret(body: HookSecretIn, services: ServicesDep, name: str = FlowPath) -> Response:
    _recipe(services, name)
    secret = body.secret.get_secret_value()
    try:
        services.hook_secrets.put(name, secret)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    services.learn_secrets([secret])
    return Response(status_code=204)


@router.delete(
    "/{name}/hook-secret",
    status_code=204,
    response_class=Response,
    responses=_NOT_FOUND,
    summary="Remove the inbound hook of a flow",
)
def delete_hook_secret(services: ServicesDep, name: str = FlowPath) -> Response:
    _recipe(services, name)
    if not services.hook_secrets.delete(name):
        raise HTTPException(status_code=404, detail=f"flow {name!r} has no inbound hook")
    return Response(status_code=204)


__all__ = ["router"]
