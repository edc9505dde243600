"""Auth: static tokens, OAuth sessions and agency auth against a fake GHL whose refresh tokens
are single-use (the strictest reading of GHL's rotation), so a second refresh would fail."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from aiohttp import web

import ghlbridge
from ghlbridge.catalog.model import Operation
from ghlbridge.client.auth import AgencyAuth, Auth, OAuthSession, StaticToken
from ghlbridge.client.errors import ConnectError, ConnectionDropped, OAuthError
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.client.transport import HandlerTransport, HttpRequest, HttpResponse
from ghlbridge.store.db import create_engine, migrate
from ghlbridge.store.tokens import MemoryTokenStore, SQLTokenStore, TokenSet
from ghlbridge.store.vault import Vault, generate_key

SECRET = "client-secret-xyz"
BASE = "https://ghl.test"
DAY = 86399


def _op(token_type: str = "location") -> Operation:
    return Operation.from_dict(
        {
            "id": f"test.{token_type}_op",
            "app": "test",
            "spec_operation_id": "op",
            "method": "GET",
            "path": "/things",
            "response": {"status": 200},
            "token_type": token_type,
            "kind": "read",
        }
    )


LOCATION_OP = _op("location")
AGENCY_OP = _op("agency")


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


def _json(status: int, body: Any) -> HttpResponse:
    return HttpResponse(status, {"Content-Type": "application/json"}, json.dumps(body).encode())


UNAUTHORIZED = {
    "statusCode": 401,
    "message": "Invalid token: access token is invalid",
    "error": "Unauthorized",
}


class FakeGHL:
    """/oauth/token, /oauth/locationToken and one API endpoint, counting every exchange.

    A refresh token works once; refreshing also revokes the access token it replaced.
    `events` is shared with `RecordingStore` so tests can check what happened in which order.
    """

    def __init__(self, clock: Clock, events: list[str]) -> None:
        self.clock = clock
        self.events = events
        self.delay = 0.01
        self.refresh_calls = 0
        self.mint_calls = 0
        self.fail_next_refresh: Exception | None = None
        self.fail_next_mint: Exception | None = None
        self.on_refresh: Any = None
        self._refresh: dict[str, dict[str, Any]] = {}
        self._access: dict[str, dict[str, Any]] = {}
        self._n = 0

    def install(
        self, user_type: str = "Location", location_id: str | None = "loc1", expires_in: int = DAY
    ) -> TokenSet:
        """Tokens as an install (code exchange) would give them."""
        info = {"user_type": user_type, "location_id": location_id, "company_id": "co1"}
        body = self._issue(info, expires_in, with_refresh=True)
        return TokenSet(
            access_token=body["access_token"],
            refresh_token=body["refresh_token"],
            expires_at=self.clock() + expires_in,
            scope="contacts.readonly",
            user_type=user_type,  # type: ignore[arg-type]
            location_id=location_id,
            company_id="co1",
        )

    def revoke(self, access_token: str) -> None:
        self._access.pop(access_token, None)

    def refresh_token_works(self, refresh_token: str) -> bool:
        return refresh_token in self._refresh

    def _issue(
        self, info: dict[str, Any], expires_in: int, *, with_refresh: bool
    ) -> dict[str, Any]:
        self._n += 1
        access = f"at-{self._n}"
        self._access[access] = info | {"expires_at": self.clock() + expires_in}
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": "contacts.readonly",
            "userType": info["user_type"],
            "companyId": info["company_id"],
        }
        if info["location_id"]:
            body["locationId"] = info["location_id"]
        if with_refresh:
            refresh = f"rt-{self._n}"
            self._refresh[refresh] = info | {"access": access}
            body["refresh_token"] = refresh
        return body

    def _bearer(self, request: HttpRequest) -> dict[str, Any] | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        info = self._access.get(token)
        if info is None or info["expires_at"] <= self.clock():
            return None
        return info

    async def __call__(self, request: HttpRequest) -> HttpResponse:
        path = urlsplit(request.url).path
        form = dict(parse_qsl((request.body or b"").decode()))
        if path == "/oauth/token":
            return await self._token(form)
        if path == "/oauth/locationToken":
            self.mint_calls += 1
            await asyncio.sleep(self.delay)
            agency = self._bearer(request)
            if agency is None or agency["user_type"] != "Company":
                return _json(401, UNAUTHORIZED)
            info = {"user_type": "Location", "location_id": form["locationId"], "company_id": "co1"}
            body = self._issue(info, DAY, with_refresh=False)
            if self.fail_next_mint is not None:
                exc, self.fail_next_mint = self.fail_next_mint, None
                raise exc
            return _json(200, body)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self._bearer(request) is None:
            return _json(401, UNAUTHORIZED)
        self.events.append(f"use:{token}")
        return _json(200, {"ok": True})

    async def _token(self, form: dict[str, str]) -> HttpResponse:
        assert form["client_secret"] == SECRET
        assert form["grant_type"] == "refresh_token"
        self.refresh_calls += 1
        self.events.append("refresh")
        await asyncio.sleep(self.delay)
        info = self._refresh.pop(form["refresh_token"], None)
        if self.on_refresh is not None:
            await self.on_refresh()
        if info is None:
            return _json(
                401, {"statusCode": 401, "message": "Invalid grant: refresh token is invalid"}
            )
        self.revoke(info.pop("access"))
        body = self._issue(info, DAY, with_refresh=True)
        if self.fail_next_refresh is not None:
            exc, self.fail_next_refresh = self.fail_next_refresh, None
            raise exc  # GHL rotated the pair, but the answer is lost
        return _json(200, body)


class RecordingStore:
    """A MemoryTokenStore that logs saves into the shared event list."""

    def __init__(self, events: list[str], inner: MemoryTokenStore | None = None) -> None:
        self.inner = inner or MemoryTokenStore()
        self.events = events
        self.fail_saves = False

    async def load(self, key: str) -> TokenSet | None:
        return await self.inner.load(key)

    async def save(self, key: str, tokens: TokenSet) -> None:
        if self.fail_saves:
            raise OSError("disk full")
        self.events.append(f"save:{tokens.access_token}")
        await self.inner.save(key, tokens)

    def locked(self, key: str) -> AbstractAsyncContextManager[None]:
        return self.inner.locked(key)


class World:
    def __init__(self) -> None:
        self.clock = Clock()
        self.events: list[str] = []
        self.ghl = FakeGHL(self.clock, self.events)
        self.transport = HandlerTransport(self.ghl)
        self.store = RecordingStore(self.events)
        self.app = OAuthApp(
            "app1-x",
            SECRET,
            "https://me.example/cb",
            ["contacts.readonly"],
            base_url=BASE,
            transport=self.transport,
            clock=self.clock,
        )

    def session(self, key: str = "loc1", store: Any = None) -> OAuthSession:
        return OAuthSession(self.app, store or self.store, key, clock=self.clock)

    def agency(self, store: Any = None) -> AgencyAuth:
        return AgencyAuth(
            self.app, store or self.store, "agency", company_id="co1", clock=self.clock
        )

    async def call(
        self, auth: Auth, op: Operation = LOCATION_OP, location_id: str | None = "loc1"
    ) -> str:
        """What the client core does: token, send, and on 401 refresh and retry once."""
        for attempt in (0, 1):
            token = await auth.token(op, location_id=location_id, company_id=None)
            resp = await self.transport.send(
                HttpRequest("GET", f"{BASE}/things", {"Authorization": f"Bearer {token}"})
            )
            if resp.status == 200:
                return token
            refreshed = await auth.refresh_after_401(
                op, token, location_id=location_id, company_id=None
            )
            if attempt or not refreshed:
                break
        raise AssertionError(f"request failed with {resp.status}")


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
async def expired(world: World) -> AsyncIterator[TokenSet]:
    """A location installation whose access token has just expired."""
    tokens = world.ghl.install()
    await world.store.inner.save("loc1", tokens)
    world.clock.now += DAY + 1
    yield tokens


async def test_static_token_is_sent_as_is_and_never_refreshed() -> None:
    auth = StaticToken("pit-123")
    assert await auth.token(LOCATION_OP, location_id="loc1", company_id=None) == "pit-123"
    assert not await auth.refresh_after_401(
        LOCATION_OP, "pit-123", location_id="loc1", company_id=None
    )
    assert "pit-123" not in repr(auth)


async def test_fresh_token_is_used_without_any_token_request(world: World) -> None:
    await world.store.inner.save("loc1", world.ghl.install())
    session = world.session()
    first = await world.call(session)
    assert await world.call(session) == first
    assert world.ghl.refresh_calls == 0


async def test_token_expiring_within_skew_is_refreshed_early(world: World) -> None:
    old = world.ghl.install()
    await world.store.inner.save("loc1", old)
    world.clock.now += DAY - 30  # 30 s left, skew is 60 s
    token = await world.call(world.session())
    assert token != old.access_token
    assert world.ghl.refresh_calls == 1


async def test_hundred_concurrent_calls_on_expired_token_cause_one_refresh(
    world: World, expired: TokenSet
) -> None:
    session = world.session()
    tokens = await asyncio.gather(
        *(session.token(LOCATION_OP, location_id="loc1", company_id=None) for _ in range(100))
    )
    assert world.ghl.refresh_calls == 1
    assert len(set(tokens)) == 1
    assert tokens[0] != expired.access_token
    stored = await world.store.load("loc1")
    assert stored is not None
    assert stored.access_token == tokens[0]
    assert stored.refresh_token != expired.refresh_token
    assert stored.refresh_token is not None
    assert world.ghl.refresh_token_works(stored.refresh_token)
    assert (stored.location_id, stored.company_id, stored.user_type) == ("loc1", "co1", "Location")


async def test_refreshed_pair_is_saved_before_the_new_access_token_is_used(
    world: World, expired: TokenSet
) -> None:
    token = await world.call(world.session())
    assert world.events == ["refresh", f"save:{token}", f"use:{token}"]


async def test_failed_save_means_the_new_token_is_never_handed_out(
    world: World, expired: TokenSet
) -> None:
    world.store.fail_saves = True
    with pytest.raises(OSError, match="disk full"):
        await world.call(world.session())
    assert not [e for e in world.events if e.startswith("use:")]


async def test_two_sessions_sharing_a_store_race_and_refresh_once(
    world: World, expired: TokenSet
) -> None:
    first, second = world.session(), world.session()  # as if in two processes
    tokens = await asyncio.gather(
        *(s.token(LOCATION_OP, location_id="loc1", company_id=None) for s in [first, second] * 30)
    )
    assert world.ghl.refresh_calls == 1
    assert len(set(tokens)) == 1


async def test_401_after_another_process_refreshed_reuses_its_token(world: World) -> None:
    await world.store.inner.save("loc1", world.ghl.install())
    mine, other = world.session(), world.session()
    old = await world.call(mine)
    # The other process gets a 401 for the same token and refreshes (revoking `old`).
    assert await other.refresh_after_401(LOCATION_OP, old, location_id="loc1", company_id=None)
    assert world.ghl.refresh_calls == 1
    new = await world.call(mine)  # 401 with `old`, reloads the store, retries
    assert new != old
    assert world.ghl.refresh_calls == 1


async def test_many_401s_for_a_revoked_token_cause_one_refresh(world: World) -> None:
    await world.store.inner.save("loc1", world.ghl.install())
    session = world.session()
    old = await world.call(session)
    world.ghl.revoke(old)  # not expired by the clock, but GHL says no
    tokens = await asyncio.gather(*(world.call(session) for _ in range(20)))
    assert world.ghl.refresh_calls == 1
    assert set(tokens) == {tokens[0]} and tokens[0] != old


async def test_401_without_refresh_token_returns_false(world: World) -> None:
    tokens = world.ghl.install()
    await world.store.inner.save("loc1", _without_refresh(tokens))
    session = world.session()
    assert not await session.refresh_after_401(
        LOCATION_OP, tokens.access_token, location_id="loc1", company_id=None
    )
    assert world.ghl.refresh_calls == 0


async def test_expired_token_without_refresh_token_is_a_clear_error(world: World) -> None:
    await world.store.inner.save("loc1", _without_refresh(world.ghl.install()))
    world.clock.now += DAY + 1
    with pytest.raises(OAuthError, match="no refresh token"):
        await world.session().token(LOCATION_OP, location_id="loc1", company_id=None)


async def test_missing_installation_is_a_clear_error(world: World) -> None:
    with pytest.raises(OAuthError, match="no OAuth tokens are stored under 'loc1'"):
        await world.session().token(LOCATION_OP, location_id="loc1", company_id=None)


async def test_rejected_refresh_token_raises_oauth_error_without_secrets(
    world: World, expired: TokenSet
) -> None:
    assert expired.refresh_token is not None
    world.ghl._refresh.clear()  # e.g. the app was uninstalled
    with pytest.raises(OAuthError, match="Invalid grant") as info:
        await world.session().token(LOCATION_OP, location_id="loc1", company_id=None)
    assert SECRET not in str(info.value)
    assert expired.refresh_token not in str(info.value)


async def test_rejected_refresh_uses_a_pair_someone_else_saved_meanwhile(
    world: World, expired: TokenSet
) -> None:
    reinstalled = world.ghl.install()
    world.ghl._refresh.pop(str(expired.refresh_token))

    async def reinstall() -> None:  # e.g. the install callback, which takes no lock
        await world.store.inner.save("loc1", reinstalled)

    world.ghl.on_refresh = reinstall
    token = await world.call(world.session())
    assert token == reinstalled.access_token
    assert world.ghl.refresh_calls == 1


async def test_refresh_with_lost_answer_is_not_retried(world: World, expired: TokenSet) -> None:
    world.ghl.fail_next_refresh = ConnectionDropped("ghl.test dropped the connection")
    session = world.session()
    with pytest.raises(OAuthError, match="single-use") as info:
        await session.token(LOCATION_OP, location_id="loc1", company_id=None)
    assert isinstance(info.value.__cause__, ConnectionDropped)
    assert world.ghl.refresh_calls == 1
    # GHL did rotate: the stored refresh token is now dead, and the next attempt says so.
    with pytest.raises(OAuthError, match="Invalid grant"):
        await session.token(LOCATION_OP, location_id="loc1", company_id=None)
    assert world.ghl.refresh_calls == 2


async def test_cancelled_caller_does_not_lose_a_refresh_in_flight(
    world: World, expired: TokenSet
) -> None:
    world.ghl.delay = 0.2
    session = world.session()
    task = asyncio.create_task(session.token(LOCATION_OP, location_id="loc1", company_id=None))
    await asyncio.sleep(0.05)  # the refresh request is at GHL now
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    stored = await world.store.load("loc1")
    assert stored is not None and stored.refresh_token is not None
    assert stored.refresh_token != expired.refresh_token
    assert world.ghl.refresh_token_works(stored.refresh_token)
    world.ghl.delay = 0.0
    assert await world.call(session) == stored.access_token
    assert world.ghl.refresh_calls == 1


async def test_refresh_that_never_left_keeps_the_refresh_token_usable(
    world: World, expired: TokenSet
) -> None:
    attempts = 0

    async def unreachable(request: HttpRequest) -> HttpResponse:
        nonlocal attempts
        attempts += 1
        raise ConnectError("cannot connect to ghl.test")

    app = OAuthApp(
        "app1-x",
        SECRET,
        "https://me.example/cb",
        base_url=BASE,
        transport=HandlerTransport(unreachable),
        clock=world.clock,
    )
    with pytest.raises(ConnectError):
        await OAuthSession(app, world.store, "loc1", clock=world.clock).token(
            LOCATION_OP, location_id="loc1", company_id=None
        )
    assert attempts == 2
    assert await world.call(world.session()) != expired.access_token
    assert world.ghl.refresh_calls == 1


# --- agency (company) installations --------------------------------------------------------


@pytest.fixture
async def company(world: World) -> TokenSet:
    tokens = world.ghl.install("Company", None, expires_in=3 * DAY)
    await world.store.inner.save("agency", tokens)
    return tokens


async def test_location_token_is_minted_once_for_concurrent_calls_and_cached(
    world: World, company: TokenSet
) -> None:
    auth = world.agency()
    tokens = await asyncio.gather(*(world.call(auth) for _ in range(50)))
    assert world.ghl.mint_calls == 1
    assert len(set(tokens)) == 1 and tokens[0] != company.access_token
    stored = await world.store.load("agency:loc1")
    assert stored is not None
    assert (stored.access_token, stored.location_id, stored.user_type) == (
        tokens[0],
        "loc1",
        "Location",
    )
    assert await world.call(auth) == tokens[0]
    assert await world.call(world.agency()) == tokens[0]  # a new process finds it stored
    assert world.ghl.mint_calls == 1
    assert world.ghl.refresh_calls == 0


async def test_lost_mint_answer_is_a_transport_error_and_minting_again_works(
    world: World, company: TokenSet
) -> None:
    world.ghl.fail_next_mint = ConnectionDropped("ghl.test dropped the connection")
    auth = world.agency()
    with pytest.raises(ConnectionDropped):
        await world.call(auth)
    assert await world.call(auth)
    assert world.ghl.mint_calls == 2


async def test_each_location_gets_its_own_minted_token(world: World, company: TokenSet) -> None:
    auth = world.agency()
    one, two = await asyncio.gather(
        world.call(auth, location_id="loc1"), world.call(auth, location_id="loc2")
    )
    assert one != two
    assert world.ghl.mint_calls == 2


async def test_two_agency_auths_sharing_a_store_mint_once(world: World, company: TokenSet) -> None:
    first, second = world.agency(), world.agency()
    tokens = await asyncio.gather(*(world.call(a) for a in [first, second] * 20))
    assert world.ghl.mint_calls == 1
    assert len(set(tokens)) == 1


async def test_agency_ops_and_calls_without_location_use_the_company_token(
    world: World, company: TokenSet
) -> None:
    auth = world.agency()
    assert await world.call(auth, AGENCY_OP, "loc1") == company.access_token
    assert await world.call(auth, LOCATION_OP, None) == company.access_token
    assert world.ghl.mint_calls == 0


async def test_expired_company_token_is_refreshed_once_then_minted_once(
    world: World, company: TokenSet
) -> None:
    world.clock.now += 3 * DAY + 1
    auth = world.agency()
    tokens = await asyncio.gather(
        *(world.call(auth, location_id=loc) for loc in ["loc1", "loc2"] * 10)
    )
    assert world.ghl.refresh_calls == 1
    assert world.ghl.mint_calls == 2
    assert len(set(tokens)) == 2
    stored = await world.store.load("agency")
    assert stored is not None and stored.refresh_token != company.refresh_token


async def test_expired_location_token_is_minted_again(world: World, company: TokenSet) -> None:
    auth = world.agency()
    first = await world.call(auth)
    world.clock.now += DAY - 30  # location token within skew; company token still valid
    second = await world.call(auth)
    assert second != first
    assert world.ghl.mint_calls == 2
    assert world.ghl.refresh_calls == 0


async def test_401_for_a_location_token_mints_again_once(world: World, company: TokenSet) -> None:
    auth = world.agency()
    old = await world.call(auth)
    world.ghl.revoke(old)
    tokens = await asyncio.gather(*(world.call(auth) for _ in range(20)))
    assert world.ghl.mint_calls == 2
    assert set(tokens) == {tokens[0]} and tokens[0] != old
    assert world.ghl.refresh_calls == 0


async def test_company_token_rejected_while_minting_is_refreshed_and_mint_retried(
    world: World, company: TokenSet
) -> None:
    world.ghl.revoke(company.access_token)
    token = await world.call(world.agency())
    assert world.ghl.refresh_calls == 1
    assert world.ghl.mint_calls == 2  # the rejected one, then the good one
    stored = await world.store.load("agency:loc1")
    assert stored is not None and stored.access_token == token


def _without_refresh(tokens: TokenSet) -> TokenSet:
    return TokenSet(
        access_token=tokens.access_token,
        refresh_token=None,
        expires_at=tokens.expires_at,
        scope=tokens.scope,
        user_type=tokens.user_type,
        location_id=tokens.location_id,
        company_id=tokens.company_id,
    )


# --- two real processes sharing one SQLite token store ---------------------------------------

_PROCESS = """
import asyncio, sys
from ghlbridge.catalog.model import Operation
from ghlbridge.client.auth import OAuthSession
from ghlbridge.client.oauth import OAuthApp
from ghlbridge.store.db import create_engine
from ghlbridge.store.tokens import SQLTokenStore
from ghlbridge.store.vault import Vault

async def main(db_url, key, base_url):
    store = SQLTokenStore(create_engine(db_url), Vault([key]))
    app = OAuthApp("app1-x", "client-secret-xyz", "https://me.example/cb", base_url=base_url)
    session = OAuthSession(app, store, "loc1")
    op = Operation.from_dict({"id": "t.op", "app": "t", "spec_operation_id": "op",
        "method": "GET", "path": "/x", "response": {"status": 200},
        "token_type": "location", "kind": "read"})
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    print(await session.token(op, location_id="loc1", company_id=None), flush=True)
    await app.close()

asyncio.run(main(*sys.argv[1:]))
"""


async def test_two_processes_refreshing_the_same_expired_token_refresh_once(
    tmp_path: Path,
) -> None:
    db_url = f"sqlite:///{tmp_path / 'ghlbridge.db'}"
    key = generate_key()
    engine = create_engine(db_url)
    migrate(engine)
    store = SQLTokenStore(engine, Vault([key]))
    await store.save(
        "loc1",
        TokenSet(
            access_token="at-0",
            refresh_token="rt-0",
            expires_at=time.time() - 5,
            user_type="Location",
            location_id="loc1",
            company_id="co1",
        ),
    )

    live = {"rt-0"}
    refreshes: list[str] = []

    async def token_endpoint(request: web.Request) -> web.Response:
        form = await request.post()
        refreshes.append(str(form["refresh_token"]))
        await asyncio.sleep(0.3)  # a slow GHL, so the second process has to wait for the lock
        if form["client_secret"] != SECRET or form["refresh_token"] not in live:
            return web.json_response({"statusCode": 401, "message": "Invalid grant"}, status=401)
        live.discard(str(form["refresh_token"]))
        n = len(refreshes)
        live.add(f"rt-{n}")
        return web.json_response(
            {
                "access_token": f"at-{n}",
                "refresh_token": f"rt-{n}",
                "expires_in": DAY,
                "scope": "contacts.readonly",
                "userType": "Location",
                "locationId": "loc1",
                "companyId": "co1",
            }
        )

    server = web.Application()
    server.router.add_post("/oauth/token", token_endpoint)
    runner = web.AppRunner(server)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    src = str(Path(ghlbridge.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([src, os.environ.get("PYTHONPATH", "")])}
    procs = []
    try:
        for _ in range(2):
            procs.append(
                await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-c",
                    _PROCESS,
                    db_url,
                    key,
                    f"http://127.0.0.1:{port}",
                    stdin=asyncio.subprocess.PIPE,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env=env,
                )
            )
        for proc in procs:
            assert proc.stdout is not None
            line = await asyncio.wait_for(proc.stdout.readline(), 60)
            assert line == b"ready\n", (line, await _stderr(proc))
        for proc in procs:  # both start at once
            assert proc.stdin is not None
            proc.stdin.write(b"go\n")
            await proc.stdin.drain()
        outputs = [await asyncio.wait_for(proc.communicate(), 60) for proc in procs]
    finally:
        for proc in procs:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await runner.cleanup()
        engine.dispose()

    for proc, (_, err) in zip(procs, outputs, strict=True):
        assert proc.returncode == 0, err.decode()
    tokens = {out.decode().strip() for out, _ in outputs}
    assert refreshes == ["rt-0"]
    assert tokens == {"at-1"}
    stored = await SQLTokenStore(create_engine(db_url), Vault([key])).load("loc1")
    assert stored is not None
    assert (stored.access_token, stored.refresh_token) == ("at-1", "rt-1")


async def _stderr(proc: asyncio.subprocess.Process) -> str:
    proc.kill()
    _, err = await proc.communicate()
    return err.decode()
