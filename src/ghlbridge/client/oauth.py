"""A GHL Marketplace app's OAuth 2.0 exchanges: authorize URL, code and refresh grants,
agency-to-location tokens and the list of installed locations.

Every call here is one exchange with GHL; keeping tokens fresh (single flight, store locks)
is `ghlbridge.client.auth`'s job. `/oauth/token` failures raise `OAuthError`; the two agency
endpoints are ordinary API calls and raise the typed `APIError`s (`AuthError` on 401).
A connect error (the request never left) is retried once; nothing else is retried here,
because a refresh token is single-use: a retried refresh that already reached GHL would fail.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from ghlbridge.client.errors import (
    ConnectError,
    OAuthError,
    PagingError,
    api_error,
    error_message,
)
from ghlbridge.client.transport import AiohttpTransport, HttpRequest, HttpResponse, Transport
from ghlbridge.store.tokens import TokenSet, UserType

DEFAULT_BASE_URL = "https://services.leadconnectorhq.com"
DEFAULT_MARKETPLACE_URL = "https://marketplace.gohighlevel.com"
WHITE_LABEL_MARKETPLACE_URL = "https://marketplace.leadconnectorhq.com"
AGENCY_OAUTH_VERSION = "2021-07-28"
_FORM = "application/x-www-form-urlencoded"
_INSTALLED_PAGE = 100


class OAuthApp:
    """One Marketplace app's credentials and the OAuth calls made with them."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        redirect_uri: str,
        scopes: Sequence[str] = (),
        *,
        base_url: str = DEFAULT_BASE_URL,
        transport: Transport | None = None,
        marketplace_url: str = DEFAULT_MARKETPLACE_URL,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client_id = client_id
        self._client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.scopes = tuple(scopes)
        self.base_url = base_url.rstrip("/")
        self.marketplace_url = marketplace_url.rstrip("/")
        self._own_transport = transport is None
        self._transport: Transport = transport if transport is not None else AiohttpTransport()
        self._timeout = timeout
        self._clock = clock

    def __repr__(self) -> str:
        return f"OAuthApp(client_id={self.client_id!r}, redirect_uri={self.redirect_uri!r})"

    @property
    def app_id(self) -> str:
        """The app id GHL uses in `/oauth/installedLocations` and webhooks: client_id's prefix."""
        return self.client_id.split("-")[0]

    def authorize_url(
        self,
        state: str | None = None,
        *,
        white_label: bool = False,
        login_window_self: bool = False,
    ) -> str:
        """The install page to send an agency or sub-account admin to."""
        params = {
            "response_type": "code",
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
            "scope": " ".join(self.scopes),
        }
        if state is not None:
            params["state"] = state
        if login_window_self:
            params["loginWindowOpenMode"] = "self"
        host = WHITE_LABEL_MARKETPLACE_URL if white_label else self.marketplace_url
        query = "&".join(f"{name}={_quote(value)}" for name, value in params.items())
        return f"{host}/v2/oauth/chooselocation?{query}"

    async def exchange_code(self, code: str, *, user_type: UserType | None = None) -> TokenSet:
        """Trade the `code` from the install redirect for a token pair."""
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": self.redirect_uri,
        }
        if user_type is not None:
            form["user_type"] = user_type
        body = await self._token_call(form, "code exchange", secrets=(code,))
        return self._token_set(body, user_type=user_type)

    async def refresh(self, refresh_token: str, *, user_type: UserType) -> TokenSet:
        """Trade a refresh token (single-use) for a new pair; the caller must save it first."""
        form = {
            "client_id": self.client_id,
            "client_secret": self._client_secret,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "user_type": user_type,
        }
        body = await self._token_call(form, "token refresh", secrets=(refresh_token,))
        return self._token_set(body, user_type=user_type)

    async def location_token(
        self, agency_access_token: str, company_id: str, location_id: str
    ) -> TokenSet:
        """Mint a sub-account token from an agency token (needs scope `oauth.write`)."""
        request = HttpRequest(
            "POST",
            f"{self.base_url}/oauth/locationToken",
            self._agency_headers(agency_access_token) | {"Content-Type": _FORM},
            urlencode({"companyId": company_id, "locationId": location_id}).encode(),
            self._timeout,
        )
        resp = await self._send(request)
        body = _json_or_none(resp)
        if resp.status not in (200, 201):
            raise api_error(resp.status, body, op_id="oauth.get_location_access_token")
        return self._token_set(
            body, user_type="Location", location_id=location_id, company_id=company_id
        )

    async def installed_locations(
        self,
        agency_access_token: str,
        company_id: str,
        app_id: str | None = None,
        *,
        filters: Mapping[str, str | bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Every location the app is installed on (or may be; see `filters`), all pages."""
        headers = self._agency_headers(agency_access_token)
        extra = {
            k: str(v).lower() if isinstance(v, bool) else v for k, v in (filters or {}).items()
        }
        found: list[dict[str, Any]] = []
        seen: set[str] = set()
        skip = 0
        while True:
            query = {
                "companyId": company_id,
                "appId": app_id or self.app_id,
                "skip": str(skip),
                "limit": str(_INSTALLED_PAGE),
                **extra,
            }
            request = HttpRequest(
                "GET",
                f"{self.base_url}/oauth/installedLocations?{urlencode(query)}",
                headers,
                None,
                self._timeout,
            )
            resp = await self._send(request)
            body = _json_or_none(resp)
            if resp.status != 200:
                raise api_error(resp.status, body, op_id="oauth.get_installed_location")
            page = body.get("locations") if isinstance(body, dict) else None
            if not isinstance(page, list) or not page:
                return found
            ids = {str(loc["_id"]) for loc in page if isinstance(loc, dict) and loc.get("_id")}
            if ids and ids <= seen:
                raise PagingError(
                    f"/oauth/installedLocations returned the same locations again at skip={skip}"
                )
            seen |= ids
            found.extend(loc for loc in page if isinstance(loc, dict))
            skip += len(page)
            count = body.get("count")
            if len(page) < _INSTALLED_PAGE or (isinstance(count, int) and skip >= count):
                return found

    async def close(self) -> None:
        """Close the transport if this app created it."""
        if self._own_transport:
            await self._transport.close()

    def _agency_headers(self, agency_access_token: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {agency_access_token}",
            "Version": AGENCY_OAUTH_VERSION,
            "Accept": "application/json",
        }

    async def _token_call(
        self, form: dict[str, str], what: str, *, secrets: tuple[str, ...]
    ) -> dict[str, Any]:
        request = HttpRequest(
            "POST",
            f"{self.base_url}/oauth/token",
            {"Content-Type": _FORM, "Accept": "application/json"},
            urlencode(form).encode(),
            self._timeout,
        )
        resp = await self._send(request)
        body = _json_or_none(resp)
        if resp.status not in (200, 201) or not isinstance(body, dict):
            message = _oauth_message(body, f"HTTP {resp.status}")
            for secret in (self._client_secret, *secrets):
                if secret:
                    message = message.replace(secret, "***")
            raise OAuthError(f"{what} failed: HTTP {resp.status}: {message}")
        return body

    async def _send(self, request: HttpRequest) -> HttpResponse:
        """Send; a connect error (nothing reached GHL) is retried once."""
        try:
            return await self._transport.send(request)
        except ConnectError:
            return await self._transport.send(request)

    def _token_set(
        self,
        body: Any,
        *,
        user_type: str | None,
        location_id: str | None = None,
        company_id: str | None = None,
    ) -> TokenSet:
        """Read a token answer, snake_case (v2) or camelCase (v3)."""
        if not isinstance(body, dict):
            raise OAuthError("GHL's token answer is not a JSON object")
        access = _pick(body, "access_token", "accessToken")
        if not isinstance(access, str) or not access:
            raise OAuthError("GHL's token answer has no access_token")
        refresh = _pick(body, "refresh_token", "refreshToken")
        expires_in = _pick(body, "expires_in", "expiresIn")
        scope = _pick(body, "scope", "scopes")
        loc = _pick(body, "locationId", "location_id") or location_id
        company = _pick(body, "companyId", "company_id") or company_id
        said = _pick(body, "userType", "user_type") or user_type
        kind: UserType = "Location"
        if said == "Company" or (said != "Location" and not loc):
            kind = "Company"
        return TokenSet(
            access_token=access,
            refresh_token=refresh if isinstance(refresh, str) and refresh else None,
            expires_at=_expires_at(expires_in, self._clock()),
            scope=" ".join(scope) if isinstance(scope, list) else str(scope or ""),
            user_type=kind,
            location_id=str(loc) if loc else None,
            company_id=str(company) if company else None,
        )


def _quote(value: str) -> str:
    """Percent-encode a query value, keeping `:` and `/` readable as GHL's docs show them."""
    return quote(value, safe="/:")


def _expires_at(expires_in: Any, now: float) -> float | None:
    if isinstance(expires_in, bool):
        return None
    try:
        return now + float(expires_in)
    except (TypeError, ValueError):
        return None


def _pick(body: Mapping[str, Any], *names: str) -> Any:
    for name in names:
        value = body.get(name)
        if value is not None:
            return value
    return None


def _json_or_none(resp: HttpResponse) -> Any:
    try:
        return resp.json()
    except (ValueError, UnicodeDecodeError):
        return None


def _oauth_message(body: Any, fallback: str) -> str:
    """GHL answers `{message}`; standard OAuth servers answer `{error, error_description}`."""
    if isinstance(body, dict):
        described = body.get("error_description")
        if isinstance(described, str) and described:
            error = body.get("error")
            return f"{error}: {described}" if isinstance(error, str) and error else described
    message = error_message(body, fallback)
    return message if message.strip() else fallback


__all__ = [
    "AGENCY_OAUTH_VERSION",
    "DEFAULT_BASE_URL",
    "DEFAULT_MARKETPLACE_URL",
    "WHITE_LABEL_MARKETPLACE_URL",
    "OAuthApp",
]
