"""The SSRF guard: private destinations are refused before any socket connects to them.

Every test here runs under `loopback_only`, which fails the test if any socket connects, or
any name is resolved, beyond 127.0.0.1/localhost: the refusals cost no network traffic.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from ghlbridge.client.retry import RetryPolicy
from ghlbridge.connectors.http import (
    AddressPolicy,
    BearerAuth,
    BlockedAddressError,
    GuardedTransport,
    HttpApp,
    HttpAppClient,
    RedirectError,
    blocked_reason,
)
from tests.connectors.app_server import AppServer

ONCE = RetryPolicy(max_attempts=1)


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    connects: list[Any] = []
    real_connect = socket.socket.connect
    real_getaddrinfo = socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> None:
        connects.append(address)
        if address[0] != "127.0.0.1":
            raise AssertionError(f"test tried to connect to {address}")
        real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kw: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name != "localhost" and not _numeric(name):  # numeric forms never reach DNS
            raise AssertionError(f"test tried to resolve {host!r}")
        return real_getaddrinfo(host, *args, **kw)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield connects


def _numeric(name: str) -> bool:
    try:
        socket.inet_aton(name)
    except OSError:
        return False
    return True


@pytest.fixture
async def server() -> AsyncIterator[AppServer]:
    async with AppServer() as srv:
        yield srv


class StaticResolver(AbstractResolver):
    """Answers from a table: names never reach real DNS."""

    def __init__(self, table: dict[str, list[str]]) -> None:
        self.table = table
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        return [
            ResolveResult(
                hostname=host,
                host=addr,
                port=port,
                family=socket.AF_INET6 if ":" in addr else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST,
            )
            for addr in self.table[host]
        ]

    async def close(self) -> None:
        return None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://127.0.0.1:{port}/echo", "loopback"),
        ("http://10.0.0.1/", "private"),
        ("http://192.168.1.20:8080/", "private"),
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("http://[::1]:{port}/echo", "loopback"),
        ("http://[::ffff:127.0.0.1]:{port}/echo", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("http://[::ffff:a9fe:a9fe]/", "link-local (IPv4 169.254.169.254 inside IPv6)"),
        ("http://0.0.0.0:{port}/", "unspecified"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[fd00::5]/", "private"),
        ("http://224.0.0.1/", "multicast"),
        ("http://100.64.0.1/", "not globally routable"),
    ],
)
async def test_private_ip_literals_are_refused_without_connecting(
    server: AppServer, loopback_only: list[Any], url: str, reason: str
) -> None:
    app = HttpApp(base_url=url.format(port=server.port), retry=ONCE)
    async with HttpAppClient(app) as client:
        with pytest.raises(BlockedAddressError) as info:
            await client.request("GET")
    assert f"{reason} address" in str(info.value)
    assert server.requests == [] and loopback_only == []


async def test_localhost_name_is_refused_after_resolving(
    server: AppServer, loopback_only: list[Any]
) -> None:
    app = HttpApp(base_url=f"http://localhost:{server.port}/echo", retry=ONCE)
    async with HttpAppClient(app) as client:
        with pytest.raises(BlockedAddressError, match=r"localhost \((127\.0\.0\.1|::1)\)"):
            await client.request("GET")
    assert server.requests == [] and loopback_only == []


@pytest.mark.parametrize("host", ["127.1", "2130706433", "017700000001", "0x7f.0.0.1"])
async def test_oblique_numeric_hosts_are_refused(loopback_only: list[Any], host: str) -> None:
    async with HttpAppClient(HttpApp(base_url=f"http://{host}/", retry=ONCE)) as client:
        with pytest.raises(BlockedAddressError, match=f"refused to connect to {host}"):
            await client.request("GET")
    assert loopback_only == []


@pytest.mark.parametrize(
    "answers", [["10.1.2.3"], ["8.8.8.8", "10.1.2.3"], ["2001:4860::8888", "::1"]]
)
async def test_a_name_with_any_private_address_is_refused(
    loopback_only: list[Any], answers: list[str]
) -> None:
    app = HttpApp(base_url="https://api.evil.test/", retry=ONCE)
    resolver = StaticResolver({"api.evil.test": answers})
    transport = GuardedTransport(app.policy(), resolver=resolver)
    async with HttpAppClient(app, transport=transport) as client:
        with pytest.raises(BlockedAddressError, match=r"api\.evil\.test \("):
            await client.request("GET")
    assert resolver.asked == ["api.evil.test"] and loopback_only == []


async def test_the_address_being_connected_is_checked_even_past_the_resolver(
    server: AppServer, loopback_only: list[Any]
) -> None:
    # Whatever hands aiohttp an address (a cache, a rebinding DNS answer), the socket factory
    # sees the one it is about to connect to.
    policy = AddressPolicy()
    with pytest.raises(BlockedAddressError, match=r"refused to connect to 127\.0\.0\.1: loopback"):
        policy.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 80)))
    sock = policy.socket_factory((socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", 80)))
    sock.close()
    assert loopback_only == []


async def test_allow_networks_opens_only_the_listed_network(server: AppServer) -> None:
    app = HttpApp(base_url=server.base_url, allow_networks=("127.0.0.1/32",), retry=ONCE)
    async with HttpAppClient(app) as client:
        assert (await client.request("GET", "/echo")).ok
    v6 = HttpApp(base_url=f"http://[::1]:{server.port}", allow_networks=("127.0.0.1/32",))
    async with HttpAppClient(v6) as client:
        with pytest.raises(BlockedAddressError):
            await client.request("GET", "/echo")


@pytest.mark.parametrize(
    "target",
    ["http://10.1.2.3:9/x", "http://[::1]:{port}/echo", "http://169.254.169.254/latest/"],
)
@pytest.mark.parametrize("code", [302, 307])
async def test_redirect_to_a_private_address_is_refused(
    server: AppServer, loopback_only: list[Any], target: str, code: int
) -> None:
    app = HttpApp(base_url=server.base_url, allow_networks=("127.0.0.1/32",), retry=ONCE)
    to = target.format(port=server.port)
    async with HttpAppClient(app) as client:
        with pytest.raises(BlockedAddressError) as info:
            await client.request("GET", "/redirect", query={"to": to, "code": code})
    assert str(info.value).startswith(f"redirect to {to.split('?')[0]} refused:")
    assert [r["path"] for r in server.requests] == ["/redirect"]
    assert all(addr[0] == "127.0.0.1" for addr in loopback_only)


async def test_redirects_are_followed_and_credentials_stay_with_their_origin(
    server: AppServer,
) -> None:
    app = HttpApp(base_url=server.base_url, allow_private=True, auth=BearerAuth("tok"))
    async with HttpAppClient(app) as client:
        same = await client.request("GET", "/redirect", query={"to": "/echo/same"})
        other = f"http://localhost:{server.port}/echo/other"
        cross = await client.request("GET", "/redirect", query={"to": other})
        posted = await client.request(
            "POST", "/redirect", query={"to": "/echo/after-303", "code": 303}, json={"a": 1}
        )
    assert (
        same.json["path"] == "/echo/same" and same.json["headers"]["Authorization"] == "Bearer tok"
    )
    assert cross.json["path"] == "/echo/other" and "Authorization" not in cross.json["headers"]
    assert posted.json["method"] == "GET" and posted.json["body"] == ""


async def test_redirect_loops_and_odd_schemes_are_refused(server: AppServer) -> None:
    app = HttpApp(base_url=server.base_url, allow_private=True, max_redirects=3, retry=ONCE)
    async with HttpAppClient(app) as client:
        with pytest.raises(RedirectError, match="more than 3 redirects"):
            await client.request("GET", "/loop")
        with pytest.raises(RedirectError, match="'file' URL refused"):
            await client.request("GET", "/redirect", query={"to": "file:///etc/passwd"})
    assert [r["path"] for r in server.requests] == ["/loop"] * 4 + ["/redirect"]


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.8.9.10", "loopback"),
        ("10.255.0.1", "private"),
        ("172.16.0.1", "private"),
        ("192.168.0.1", "private"),
        ("169.254.1.1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("255.255.255.255", "private"),
        ("240.0.0.1", "private"),
        ("239.1.1.1", "multicast"),
        ("100.100.0.1", "not globally routable"),
        ("192.0.2.5", "private"),
        ("::", "unspecified"),
        ("::1", "loopback"),
        ("fe80::abcd", "link-local"),
        ("fc00::1", "private"),
        ("fec0::1", "site-local"),
        ("ff02::1", "multicast"),
        ("::ffff:10.0.0.1", "private (IPv4 10.0.0.1 inside IPv6)"),
        ("2002:7f00:1::", "loopback (IPv4 127.0.0.1 inside IPv6)"),
        ("64:ff9b::a9fe:a9fe", "link-local (IPv4 169.254.169.254 inside IPv6)"),
        ("::127.0.0.1", "reserved"),
        ("8.8.8.8", None),
        ("1.1.1.1", None),
        ("2606:4700:4700::1111", None),
        ("::ffff:8.8.8.8", "reserved"),
    ],
)
def test_blocked_reason_covers_every_non_public_range(address: str, reason: str | None) -> None:
    assert blocked_reason(ipaddress.ip_address(address)) == reason
