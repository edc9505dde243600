"""Keeps user-configured HTTP calls off internal networks (SSRF), at the socket that connects.

A user may point an HTTP app or outbound webhook at any URL, so without a guard ghlbridge
would fetch ``http://169.254.169.254/`` (cloud metadata), ``http://localhost:5432`` or a LAN
device on their behalf. `AddressPolicy` refuses loopback, private, link-local, multicast,
reserved, unspecified and other non-global addresses, IPv4 and IPv6 alike, including IPv4
embedded in IPv6 (``::ffff:127.0.0.1``, 6to4, NAT64), unless the app sets ``allow_private``
or lists the network in ``allow_networks``.

The check runs where it cannot be bypassed: `GuardedTransport` gives aiohttp a resolver that
refuses a name if any of its addresses is refused (so a clear error names the host), and a
socket factory that checks the very address each socket is about to connect to (IP literals,
which skip the resolver, and anything else). DNS rebinding gains nothing: the address checked
is the one connected to. Redirects pass the same transport, hop by hop. Proxies from the
environment are not used.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver

from ghlbridge.client.transport import AiohttpTransport, HttpRequest, HttpResponse
from ghlbridge.connectors.http.errors import BlockedAddressError, HttpConfigError

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


def blocked_reason(ip: IPAddress) -> str | None:
    """Why `ip` is not a public destination (e.g. "loopback"), or None if it is one."""
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and ip in _NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None:
            inner = blocked_reason(embedded)
            if inner:
                return f"{inner} (IPv4 {embedded} inside IPv6)"
        if ip.is_site_local:
            return "site-local"
    checks = (
        ("unspecified", ip.is_unspecified),
        ("loopback", ip.is_loopback),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    )
    return next((name for name, hit in checks if hit), None)


class AddressPolicy:
    """Which destination addresses an app may reach."""

    def __init__(self, *, allow_private: bool = False, allow_networks: Iterable[str] = ()):
        self.allow_private = allow_private
        try:
            self.allow_networks: tuple[IPNetwork, ...] = tuple(
                ipaddress.ip_network(n, strict=False) for n in allow_networks
            )
        except ValueError as exc:
            raise HttpConfigError(f"allow_networks: {exc}") from None

    def refusal(self, address: str) -> str | None:
        """Why connecting to `address` is refused, or None if it is allowed."""
        if self.allow_private:
            return None
        try:
            ip = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError:
            return "not an IP address"
        if any(ip.version == n.version and ip in n for n in self.allow_networks):
            return None
        return blocked_reason(ip)

    def check(self, address: str, *, host: str | None = None) -> None:
        reason = self.refusal(address)
        if reason:
            shown = address if host in (None, address) else f"{host} ({address})"
            raise BlockedAddressError(
                f"refused to connect to {shown}: {reason} address "
                "(set allow_private, or allow_networks, to allow it)"
            )

    def socket_factory(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's socket factory: the last check, on the exact address about to connect."""
        family, type_, proto, _, sockaddr = addr_info
        self.check(str(sockaddr[0]))
        return socket.socket(family, type_, proto)


class GuardedResolver(AbstractResolver):
    """Resolves with `inner`, then refuses the name if any address it gave is refused."""

    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        for result in results:
            self._policy.check(result["host"], host=host)
        return results

    async def close(self) -> None:
        await self._inner.close()


class GuardedTransport(AiohttpTransport):
    """The project's aiohttp transport, connecting only where an `AddressPolicy` allows."""

    def __init__(
        self,
        policy: AddressPolicy,
        *,
        resolver: AbstractResolver | None = None,
        pool_size: int = 100,
        timeout: float = 30.0,
    ) -> None:
        super().__init__(pool_size=pool_size, timeout=timeout)
        self.policy = policy
        self._resolver = resolver

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._pool_size,
                limit_per_host=self._per_host,
                ttl_dns_cache=300,
                resolver=GuardedResolver(self.policy, self._resolver),
                socket_factory=self.policy.socket_factory,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
                auto_decompress=True,
                skip_auto_headers=("User-Agent",),
                trust_env=False,
            )
        return self._session

    async def send(self, request: HttpRequest) -> HttpResponse:
        host = _host_of(request.url)
        if _is_ip(host):  # an IP literal skips the resolver: refuse it before any work
            self.policy.check(host)
        try:
            return await super().send(request)
        except aiohttp.InvalidURL as exc:
            # e.g. "127.1" or "2130706433": numeric hosts that name an address obliquely.
            raise BlockedAddressError(f"refused to connect to {host}: {exc}") from None


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").strip("[]")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    return True
