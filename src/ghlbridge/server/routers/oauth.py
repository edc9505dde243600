"""The OAuth install flow (browser routes) and the app's configuration (API routes).

- ``GET /oauth/start``: redirects to GHL's authorize page with the configured client id,
  scopes and redirect URI, and a one-time `state`.
- ``GET /oauth/callback``: GHL sends the browser back here with ``?code=`` (and the `state`
  when the install started at /oauth/start; installs started from GHL's marketplace page
  carry none, refused only with ``GHLBRIDGE_OAUTH_REQUIRE_STATE``). The code is exchanged,
  the tokens stored encrypted, and the installed locations recorded.
- ``GET/PUT /api/oauth/app`` (admin): the client id, scopes and (write-only) client secret.
- ``GET /api/installations`` (admin): where the app is installed.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import asdict
from datetime import datetime

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import RedirectResponse
from pydantic import BaseModel, Field, SecretStr

from ghlbridge.client.errors import GHLError, OAuthError, TransportError
from ghlbridge.server.deps import AdminDep, ServicesDep, limit_source
from ghlbridge.server.installations import InstallError
from ghlbridge.server.services import Services

router = APIRouter(tags=["oauth"])
api = APIRouter(prefix="/api", tags=["oauth"], dependencies=[AdminDep])
log = logging.getLogger("ghlbridge.server.oauth")

_NOT_CONFIGURED = (
    "no OAuth app is configured: PUT /api/oauth/app (or set GHLBRIDGE_OAUTH_CLIENT_ID and "
    "GHLBRIDGE_OAUTH_CLIENT_SECRET)"
)


class InstallOut(BaseModel):
    connection: str
    user_type: str
    location_id: str | None
    company_id: str | None
    scopes: list[str]
    locations: list[str] = Field(description="The locations this install covers.")
    reinstalled: bool


class OAuthAppIn(BaseModel):
    client_id: str = Field(min_length=1, max_length=255, pattern=r"^\S+$")
    client_secret: SecretStr = Field(min_length=1, max_length=4096)
    scopes: list[str] = Field(default_factory=list, max_length=300)


class OAuthAppOut(BaseModel):
    configured: bool
    client_id: str | None
    app_id: str | None
    scopes: list[str]
    redirect_uri: str
    start_url: str


class InstallationOut(BaseModel):
    app_id: str
    account_id: str
    install_type: str
    company_id: str | None
    location_id: str | None
    connection: str | None
    source: str
    installed_at: datetime
    updated_at: datetime


@router.get(
    "/oauth/start",
    status_code=307,
    response_class=RedirectResponse,
    responses={307: {"description": "To GHL's authorize page"}, 409: {"description": "No app"}},
    dependencies=[Depends(limit_source)],
    summary="Start installing the Marketplace app",
)
async def oauth_start(services: ServicesDep) -> RedirectResponse:
    config = await asyncio.to_thread(services.oauth_config)
    if config is None:
        raise HTTPException(status_code=409, detail=_NOT_CONFIGURED)
    state = await asyncio.to_thread(services.oauth_apps.issue_state)
    app = services.oauth_client(config)
    try:
        url = app.authorize_url(state)
    finally:
        await app.close()
    return RedirectResponse(url, status_code=307)


@router.get(
    "/oauth/callback",
    response_model=InstallOut,
    responses={
        400: {"description": "Bad or expired state, or the code was refused"},
        409: {"description": "No OAuth app is configured"},
        502: {"description": "GHL could not be reached"},
    },
    dependencies=[Depends(limit_source)],
    summary="Finish an install: exchange the code, store the tokens",
)
async def oauth_callback(
    services: ServicesDep,
    code: str | None = Query(default=None, max_length=2048),
    state: str | None = Query(default=None, max_length=512),
    error: str | None = Query(default=None, max_length=512),
) -> InstallOut:
    if error:
        raise HTTPException(status_code=400, detail="the install was not approved")
    if not code:
        raise HTTPException(status_code=400, detail="no code in the redirect")
    config = await asyncio.to_thread(services.oauth_config)
    if config is None:
        raise HTTPException(status_code=409, detail=_NOT_CONFIGURED)
    if state:
        if not await asyncio.to_thread(services.oauth_apps.consume_state, state):
            raise HTTPException(status_code=400, detail="unknown or expired state; start again")
    elif services.settings.oauth_require_state:
        raise HTTPException(status_code=400, detail="no state: start the install at /oauth/start")
    app = services.oauth_client(config)
    secret = config.client_secret()
    try:
        result = await services.installations.complete_oauth(app, secret, code)
    except (OAuthError, InstallError) as exc:
        raise HTTPException(status_code=400, detail=services.redactor.text(str(exc))) from None
    except TransportError as exc:
        log.warning("OAuth code exchange: GHL unreachable: %s", type(exc).__name__)
        raise HTTPException(status_code=502, detail="GHL could not be reached") from None
    except GHLError as exc:
        raise HTTPException(status_code=400, detail=services.redactor.text(str(exc))) from None
    finally:
        await app.close()
    log.info(
        "installed: connection %s (%s %s)",
        result.connection,
        result.user_type,
        result.location_id or result.company_id,
    )
    return InstallOut(
        connection=result.connection,
        user_type=result.user_type,
        location_id=result.location_id,
        company_id=result.company_id,
        scopes=list(result.scopes),
        locations=list(result.locations),
        reinstalled=result.reinstalled,
    )


def _app_out(services: Services) -> OAuthAppOut:
    config = services.oauth_config()
    return OAuthAppOut(
        configured=config is not None,
        client_id=config.client_id if config else None,
        app_id=config.app_id if config else None,
        scopes=list(config.scopes) if config else [],
        redirect_uri=services.settings.redirect_uri,
        start_url=f"{services.settings.base_url}/oauth/start",
    )


@api.get("/oauth/app", response_model=OAuthAppOut, summary="The configured OAuth app")
def get_oauth_app(services: ServicesDep) -> OAuthAppOut:
    return _app_out(services)


@api.put(
    "/oauth/app",
    response_model=OAuthAppOut,
    responses={422: {"description": "Invalid client id or scopes"}},
    summary="Configure the OAuth app (the client secret is stored encrypted, never shown)",
)
def put_oauth_app(body: OAuthAppIn, services: ServicesDep) -> OAuthAppOut:
    secret = body.client_secret.get_secret_value()
    try:
        services.oauth_apps.put(body.client_id, secret, body.scopes)
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    services.learn_secrets([secret])
    return _app_out(services)


@api.get(
    "/installations",
    response_model=list[InstallationOut],
    summary="Where the app is installed (INSTALL webhooks and OAuth callbacks)",
)
def list_installations(services: ServicesDep) -> list[InstallationOut]:
    return [InstallationOut(**asdict(i)) for i in services.installations.all()]


__all__ = ["api", "router"]
