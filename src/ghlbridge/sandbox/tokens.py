"""Every credential the sandbox accepts: PITs, OAuth access/refresh tokens and auth codes.

A `Token` says who is calling (location or agency), for which app (the rate-limit key), with
which scopes, until when. PITs never expire and have no refresh token; OAuth access tokens
expire after `access_token_ttl` and their refresh tokens are single-use (GHL rotates refresh
tokens; whether the old one stays valid is unconfirmed, so the sandbox takes the strict side).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Literal

from ghlbridge.sandbox.ids import IdFactory

UserType = Literal["Location", "Company"]
TokenKind = Literal["pit", "oauth"]


@dataclass(frozen=True, slots=True)
class Token:
    value: str
    kind: TokenKind
    user_type: UserType
    company_id: str
    location_id: str | None
    scopes: frozenset[str]
    app_id: str
    user_id: str
    expires_at: float | None = None

    @property
    def is_agency(self) -> bool:
        return self.user_type == "Company"

    @property
    def resource_id(self) -> str:
        """The location or company this token acts for: GHL's rate-limit resource."""
        return self.location_id or self.company_id


@dataclass(frozen=True, slots=True)
class OAuthClient:
    """A marketplace app's credentials; client ids look like ``<24-hex appId>-<suffix>``."""

    client_id: str
    client_secret: str

    @property
    def app_id(self) -> str:
        return self.client_id.split("-")[0]


@dataclass(frozen=True, slots=True)
class TokenPair:
    access: Token
    refresh_token: str


@dataclass(frozen=True, slots=True)
class _Grant:
    """What an auth code or refresh token stands for: everything but the access token itself."""

    client_id: str
    user_type: UserType
    company_id: str
    location_id: str | None
    scopes: frozenset[str]
    user_id: str
    redirect_uri: str | None = None


class OAuthGrantError(Exception):
    """A token request the sandbox refuses; `status` and message become the GHL error body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class TokenRegistry:
    """Issues, looks up, rotates and revokes tokens."""

    def __init__(
        self,
        ids: IdFactory,
        *,
        access_token_ttl: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._ids = ids
        self._ttl = access_token_ttl
        self._clock = clock
        self._tokens: dict[str, Token] = {}
        self._refresh: dict[str, _Grant] = {}
        self._codes: dict[str, _Grant] = {}
        self._clients: dict[str, OAuthClient] = {}

    # -- lookup ---------------------------------------------------------------------------
    def lookup(self, value: str | None) -> Token | None:
        """The live token for a bearer value; None when unknown, revoked or expired."""
        if not value:
            return None
        token = self._tokens.get(value)
        if token is None:
            return None
        if token.expires_at is not None and token.expires_at <= self._clock():
            return None
        return token

    def tokens(self) -> Iterable[Token]:
        return self._tokens.values()

    def revoke(self, value: str) -> bool:
        return self._tokens.pop(value, None) is not None

    def expire(self, value: str) -> None:
        """Make a token expire now (tests of refresh-on-401 use this)."""
        token = self._tokens[value]
        self._tokens[value] = replace(token, expires_at=self._clock())

    # -- PITs -----------------------------------------------------------------------------
    def create_pit(
        self,
        *,
        company_id: str,
        location_id: str | None,
        scopes: Iterable[str],
        value: str | None = None,
        user_id: str | None = None,
    ) -> Token:
        """A Private Integration Token for a location, or for the agency when no location."""
        value = value or self._ids.new_secret("pit-")
        if value in self._tokens:
            raise ValueError("token value already registered")
        token = Token(
            value=value,
            kind="pit",
            user_type="Location" if location_id else "Company",
            company_id=company_id,
            location_id=location_id,
            scopes=frozenset(scopes),
            app_id="pit-" + self._ids.new_hex_id(),
            user_id=user_id or self._ids.new_id(),
        )
        self._tokens[value] = token
        return token

    # -- OAuth ----------------------------------------------------------------------------
    def register_client(
        self, client_id: str | None = None, secret: str | None = None
    ) -> OAuthClient:
        client = OAuthClient(
            client_id or f"{self._ids.new_hex_id()}-{self._ids.new_id()[:8].lower()}",
            secret or self._ids.new_secret(),
        )
        self._clients[client.client_id] = client
        return client

    def registered_client(self, client_id: str) -> OAuthClient | None:
        """The app with this client id (the authorize page checks it; no secret there)."""
        return self._clients.get(client_id)

    def client(self, client_id: str, client_secret: str) -> OAuthClient:
        client = self._clients.get(client_id)
        if client is None or client.client_secret != client_secret:
            raise OAuthGrantError(401, "Invalid client: client credentials are invalid")
        return client

    def issue(
        self,
        client: OAuthClient,
        *,
        company_id: str,
        location_id: str | None,
        scopes: Iterable[str],
        user_id: str | None = None,
    ) -> TokenPair:
        """A fresh access token plus a (single-use) refresh token."""
        grant = _Grant(
            client.client_id,
            "Location" if location_id else "Company",
            company_id,
            location_id,
            frozenset(scopes),
            user_id or self._ids.new_id(),
        )
        return self._issue(grant)

    def _issue(self, grant: _Grant) -> TokenPair:
        client = self._clients[grant.client_id]
        access = Token(
            value=self._ids.new_secret("sbx-at-"),
            kind="oauth",
            user_type=grant.user_type,
            company_id=grant.company_id,
            location_id=grant.location_id,
            scopes=grant.scopes,
            app_id=client.app_id,
            user_id=grant.user_id,
            expires_at=self._clock() + self._ttl,
        )
        self._tokens[access.value] = access
        refresh = self._ids.new_secret("sbx-rt-")
        self._refresh[refresh] = grant
        return TokenPair(access, refresh)

    def create_code(
        self,
        client: OAuthClient,
        *,
        company_id: str,
        location_id: str | None,
        scopes: Iterable[str],
        redirect_uri: str | None = None,
    ) -> str:
        """An authorization code, as the marketplace's choose-location page would hand out."""
        code = self._ids.new_hex_id() + self._ids.new_hex_id()[:16]
        self._codes[code] = _Grant(
            client.client_id,
            "Location" if location_id else "Company",
            company_id,
            location_id,
            frozenset(scopes),
            self._ids.new_id(),
            redirect_uri,
        )
        return code

    def exchange_code(
        self, client: OAuthClient, code: str, *, redirect_uri: str | None, user_type: str | None
    ) -> TokenPair:
        grant = self._codes.pop(code, None)
        if grant is None or grant.client_id != client.client_id:
            raise OAuthGrantError(401, "Invalid grant: authorization code is invalid")
        if grant.redirect_uri and redirect_uri and redirect_uri != grant.redirect_uri:
            raise OAuthGrantError(400, "redirect_uri does not match the authorization request")
        if user_type and user_type != grant.user_type:
            raise OAuthGrantError(400, f"user_type {user_type} does not match the installation")
        return self._issue(grant)

    def rotate(
        self, client: OAuthClient, refresh_token: str, *, user_type: str | None
    ) -> TokenPair:
        """Spend a refresh token for a new pair; the spent token never works again."""
        grant = self._refresh.get(refresh_token)
        if grant is None or grant.client_id != client.client_id:
            raise OAuthGrantError(401, "Invalid grant: refresh token is invalid")
        if user_type and user_type != grant.user_type:
            raise OAuthGrantError(400, f"user_type {user_type} does not match the refresh token")
        del self._refresh[refresh_token]
        return self._issue(grant)

    def location_token(self, agency: Token, location_id: str) -> TokenPair:
        """A location token pair minted from an agency OAuth token (`/oauth/locationToken`)."""
        client = next((c for c in self._clients.values() if c.app_id == agency.app_id), None)
        if client is None:
            raise OAuthGrantError(401, "This route requires an agency OAuth access token")
        grant = _Grant(
            client.client_id,
            "Location",
            agency.company_id,
            location_id,
            agency.scopes,
            agency.user_id,
        )
        return self._issue(grant)
