"""Where a request gets its bearer token: Private Integration Tokens and OAuth 2.0 sessions.

The client core calls `Auth.token()` before each request and `Auth.refresh_after_401()` once
after a 401, retrying the request once when it returns True.

Rules every OAuth token here keeps (see `_StoredToken`):
- single flight: one asyncio lock per stored token in this process, then `store.locked(key)`
  across processes, so N concurrent callers cause exactly one refresh;
- reload after locking: another process may have refreshed already; its token is used as is;
- save before use: a refreshed pair is saved to the store before its access token is handed
  out, so a crash in between cannot lose the only valid (single-use) refresh token;
- a refresh whose outcome is unknown is never retried; the store is reloaded instead;
- a refresh once sent finishes (and is saved) even if the caller is cancelled meanwhile.

`token()` raises `OAuthError` when no usable token can be had, `ConnectError` when GHL could
not be reached (nothing was spent), and the typed `APIError`s of `/oauth/locationToken`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Literal, Protocol, TypeVar

from ghlbridge.catalog.model import Operation
from ghlbridge.client.errors import AuthError, ConnectError, OAuthError, TransportError
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.store.tokens import TokenSet, TokenStore

T = TypeVar("T")
Renew = Callable[[TokenSet | None], Awaitable[TokenSet | None]]


class Auth(Protocol):
    """What the client core needs from any authentication method."""

    async def token(
        self, op: Operation, *, location_id: str | None, company_id: str | None
    ) -> str: ...

    async def refresh_after_401(
        self,
        op: Operation,
        rejected_token: str,
        *,
        location_id: str | None,
        company_id: str | None,
    ) -> bool: ...


class StaticToken:
    """A Private Integration Token or a raw access token: sent as is, never refreshed."""

    def __init__(self, token: str, *, user_type: Literal["Location", "Company"] = "Location"):
        self._token = token
        self.user_type = user_type

    def __repr__(self) -> str:
        return f"StaticToken(user_type={self.user_type!r})"

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        return self._token

    async def refresh_after_401(
        self,
        op: Operation,
        rejected_token: str,
        *,
        location_id: str | None,
        company_id: str | None,
    ) -> bool:
        return False


class _StoredToken:
    """One token in a `TokenStore`, kept usable by a renew function under both locks."""

    def __init__(
        self,
        store: TokenStore,
        key: str,
        *,
        skew: float,
        clock: Callable[[], float],
        single_use: bool,
    ) -> None:
        self.store = store
        self.key = key
        self._single_use = single_use
        self._skew = skew
        self._clock = clock
        self._lock = asyncio.Lock()
        self._cached: TokenSet | None = None

    def is_fresh(self, tokens: TokenSet) -> bool:
        return not tokens.expires_within(self._skew, self._clock())

    def cached(self) -> TokenSet | None:
        """The token this process last saw, if it is not about to expire."""
        tokens = self._cached
        return tokens if tokens is not None and self.is_fresh(tokens) else None

    async def get(self, renew: Renew) -> TokenSet:
        """A fresh token: the cached one, one another process saved, or a renewed one."""
        if (tokens := self.cached()) is not None:
            return tokens
        async with self._lock:
            if (tokens := self.cached()) is not None:
                return tokens
            async with self.store.locked(self.key):
                stored = await self.store.load(self.key)
                if stored is not None and self.is_fresh(stored):
                    self._cached = stored
                    return stored
                renewed = await self._renew(stored, renew)
        if renewed is None:
            raise OAuthError(_cannot_renew(self.key, stored))
        return renewed

    async def replace(self, rejected: str, renew: Renew) -> bool:
        """After GHL rejected `rejected`: True when a different token is now stored."""
        async with self._lock:
            current = self.cached()
            if current is not None and current.access_token != rejected:
                return True
            async with self.store.locked(self.key):
                stored = await self.store.load(self.key)
                if stored is not None and stored.access_token != rejected:
                    self._cached = stored
                    return True
                renewed = await self._renew(stored, renew)
        return renewed is not None and renewed.access_token != rejected

    async def _renew(self, stored: TokenSet | None, renew: Renew) -> TokenSet | None:
        """Renew under both locks. A renewal once started runs to its end even if the caller
        is cancelled (the locks are held until then): a spent refresh token is not spent twice."""
        task = asyncio.ensure_future(self._renew_and_save(stored, renew))
        try:
            return await asyncio.shield(task)
        except asyncio.CancelledError:
            await asyncio.wait([task])
            if not task.cancelled():
                task.exception()  # seen here; the caller only hears of its cancellation
            raise

    async def _renew_and_save(self, stored: TokenSet | None, renew: Renew) -> TokenSet | None:
        """Save the new token before anyone sees it; after a failure, look at the store again."""
        try:
            renewed = await renew(stored)
        except ConnectError:
            raise  # the request never reached GHL: the old refresh token is still good
        except (TransportError, OAuthError) as exc:
            latest = await self.store.load(self.key)
            if latest is not None and _pair(latest) != _pair(stored) and self.is_fresh(latest):
                self._cached = latest
                return latest
            if isinstance(exc, OAuthError) or not self._single_use:
                raise
            raise OAuthError(
                f"refreshing the token stored under {self.key!r} got no answer ({exc}); not "
                "retried, since GHL may have spent the single-use refresh token. If the next "
                "refresh is rejected, install the app again."
            ) from exc
        if renewed is None:
            return None
        await self.store.save(self.key, renewed)
        self._cached = renewed
        return renewed


def _pair(tokens: TokenSet | None) -> tuple[str | None, str | None]:
    return (tokens.access_token, tokens.refresh_token) if tokens is not None else (None, None)


def _cannot_renew(key: str, stored: TokenSet | None) -> str:
    if stored is None:
        return f"no OAuth tokens are stored under {key!r}; install the app (exchange a code) first"
    return (
        f"the access token stored under {key!r} has expired and there is no refresh token; "
        "install the app again"
    )


class OAuthSession:
    """`Auth` for one installation (a location or a company token) kept in a `TokenStore`."""

    def __init__(
        self,
        app: OAuthApp,
        store: TokenStore,
        key: str,
        *,
        skew: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.key = key
        self._slot = _StoredToken(store, key, skew=skew, clock=clock, single_use=True)

    def __repr__(self) -> str:
        return f"OAuthSession(key={self.key!r}, app={self.app!r})"

    async def tokens(self) -> TokenSet:
        """The current token set, refreshed first when it expires within `skew` seconds."""
        return await self._slot.get(self._refresh)

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        return (await self.tokens()).access_token

    async def refresh_after_401(
        self,
        op: Operation,
        rejected_token: str,
        *,
        location_id: str | None,
        company_id: str | None,
    ) -> bool:
        return await self._slot.replace(rejected_token, self._refresh)

    async def _refresh(self, stored: TokenSet | None) -> TokenSet | None:
        if stored is None or not stored.refresh_token:
            return None
        new = await self.app.refresh(stored.refresh_token, user_type=stored.user_type)
        return TokenSet(
            access_token=new.access_token,
            refresh_token=new.refresh_token or stored.refresh_token,
            expires_at=new.expires_at,
            scope=new.scope or stored.scope,
            user_type=new.user_type,
            location_id=new.location_id or stored.location_id,
            company_id=new.company_id or stored.company_id,
        )


class AgencyAuth:
    """`Auth` from one agency (company) installation: the company token for agency calls,
    and for location calls a location token minted from it, stored under
    ``f"{company_key}:{location_id}"`` and kept with the same single-flight rules."""

    def __init__(
        self,
        app: OAuthApp,
        store: TokenStore,
        company_key: str,
        *,
        company_id: str,
        skew: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.app = app
        self.company_id = company_id
        self.company = OAuthSession(app, store, company_key, skew=skew, clock=clock)
        self._store = store
        self._skew = skew
        self._clock = clock
        self._locations: dict[str, _StoredToken] = {}

    def __repr__(self) -> str:
        return f"AgencyAuth(company_key={self.company.key!r}, company_id={self.company_id!r})"

    def location_key(self, location_id: str) -> str:
        return f"{self.company.key}:{location_id}"

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        if op.token_type != "location" or not location_id:
            return await self.company.token(op, location_id=None, company_id=self.company_id)
        slot = self._slot(location_id)
        if (tokens := slot.cached()) is not None:
            return tokens.access_token

        async def fetch(agency_token: str) -> str:
            minted = await slot.get(self._minter(location_id, agency_token))
            return minted.access_token

        return await self._with_agency_token(op, fetch)

    async def refresh_after_401(
        self,
        op: Operation,
        rejected_token: str,
        *,
        location_id: str | None,
        company_id: str | None,
    ) -> bool:
        if op.token_type != "location" or not location_id:
            return await self.company.refresh_after_401(
                op, rejected_token, location_id=None, company_id=self.company_id
            )
        slot = self._slot(location_id)

        async def replace(agency_token: str) -> bool:
            return await slot.replace(rejected_token, self._minter(location_id, agency_token))

        return await self._with_agency_token(op, replace)

    def _slot(self, location_id: str) -> _StoredToken:
        slot = self._locations.get(location_id)
        if slot is None:
            slot = _StoredToken(
                self._store,
                self.location_key(location_id),
                skew=self._skew,
                clock=self._clock,
                single_use=False,  # minting again is harmless
            )
            self._locations[location_id] = slot
        return slot

    def _minter(self, location_id: str, agency_token: str) -> Renew:
        async def mint(stored: TokenSet | None) -> TokenSet:
            return await self.app.location_token(agency_token, self.company_id, location_id)

        return mint

    async def _with_agency_token(self, op: Operation, use: Callable[[str], Awaitable[T]]) -> T:
        """Run `use` with the company token, taken before any location lock (locks never
        nest); if GHL rejects the company token while minting, refresh it and try once more."""
        agency = await self.company.token(op, location_id=None, company_id=self.company_id)
        try:
            return await use(agency)
        except AuthError as exc:
            if "scope" in exc.message.lower() or not await self.company.refresh_after_401(
                op, agency, location_id=None, company_id=self.company_id
            ):
                raise
        agency = await self.company.token(op, location_id=None, company_id=self.company_id)
        return await use(agency)


__all__ = ["AgencyAuth", "Auth", "OAuthSession", "StaticToken"]
