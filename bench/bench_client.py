"""`client`: one GET operation, one at a time and 50 at once, through four clients in one run.

The server (`servers.py fixed`) runs in its own process and answers a fixed small JSON body
with rate-limit headers granting a huge budget, so the numbers are the clients' own cost:
raw aiohttp and raw httpx (same pool: keep-alive, 100 connections), the ghlbridge client
(`GHLClient.call("contacts.get_contact")`, the full request path: validation, Version header,
rate limiter, retries, error mapping, JSON decoding) and the official SDK
(`HighLevel(private_integration_token=...).contacts.get_contact`, base URL pointed at the server,
its pool as shipped).

Each contender is warmed up, then rounds run the contenders in turn (so a load spike on the
machine hits all of them); ops/s is the median over rounds, latencies pool every call.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from processes import server_process
from report import latency_ms, note, print_table

from ghlbridge.client import GHLClient

OPERATION = "contacts.get_contact"
CONTACT_ID = "ocQHyuzHvysMo5N5VsXc"
TOKEN = "pit-00000000-bench-0000-0000-000000000000"
POOL_SIZE = 100
VERSION = "2021-07-28"
CONTENDERS = ("aiohttp", "httpx", "ghlbridge", "official_sdk")

Call = Callable[[], Awaitable[Any]]
Opener = Callable[[str], contextlib.AbstractAsyncContextManager[Call]]


@dataclass
class Phase:
    """One contender's calls at one concurrency, over every round."""

    rates: list[float] = field(default_factory=list)
    cpu_per_op: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, float | None]:
        lat = latency_ms(self.latencies)
        return {
            "ops_per_s": round(statistics.median(self.rates), 1),
            "p50_ms": lat["p50"],
            "p99_ms": lat["p99"],
            "cpu_us_per_op": round(statistics.median(self.cpu_per_op) * 1e6, 1),
        }


def _url(base_url: str) -> str:
    return f"{base_url}/contacts/{CONTACT_ID}"


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKEN}", "Version": VERSION, "Accept": "application/json"}


@contextlib.asynccontextmanager
async def open_aiohttp(base_url: str) -> AsyncIterator[Call]:
    connector = aiohttp.TCPConnector(limit=POOL_SIZE, limit_per_host=0, ttl_dns_cache=300)
    timeout = aiohttp.ClientTimeout(total=30)
    url, headers = _url(base_url), _headers()
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:

        async def call() -> Any:
            async with session.get(url, headers=headers) as resp:
                body = await resp.read()
                if resp.status != 200:
                    raise RuntimeError(f"aiohttp: HTTP {resp.status}")
                return json.loads(body)

        yield call


@contextlib.asynccontextmanager
async def open_httpx(base_url: str) -> AsyncIterator[Call]:
    import httpx

    limits = httpx.Limits(max_connections=POOL_SIZE, max_keepalive_connections=POOL_SIZE)
    url, headers = _url(base_url), _headers()
    async with httpx.AsyncClient(limits=limits, timeout=30.0) as client:

        async def call() -> Any:
            resp = await client.get(url, headers=headers)
            resp.raise_for_status()
            return resp.json()

        yield call


@contextlib.asynccontextmanager
async def open_ghlbridge(base_url: str) -> AsyncIterator[Call]:
    async with GHLClient(TOKEN, base_url=base_url) as client:  # AiohttpTransport, 100 conns

        async def call() -> Any:
            return await client.call(OPERATION, {"contactId": CONTACT_ID})

        yield call


@contextlib.asynccontextmanager
async def open_official_sdk(base_url: str) -> AsyncIterator[Call]:
    from highlevel import HighLevel

    ghl = HighLevel(private_integration_token=TOKEN)
    # Every service sends through the one httpx client, built with HighLevel.BASE_URL.
    ghl.http_client.base_url = base_url
    try:

        async def call() -> Any:
            return await ghl.contacts.get_contact(contact_id=CONTACT_ID)

        yield call
    finally:
        await ghl.close()


OPENERS: dict[str, Opener] = {
    "aiohttp": open_aiohttp,
    "httpx": open_httpx,
    "ghlbridge": open_ghlbridge,
    "official_sdk": open_official_sdk,
}


async def run_phase(call: Call, n: int, concurrency: int) -> tuple[float, float, list[float]]:
    """`n` calls by `concurrency` workers, each starting its next call when the last ends.

    Returns (calls/s, client CPU seconds per call, per-call durations).
    """
    latencies: list[float] = []
    left = n

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            start = time.perf_counter()
            await call()
            latencies.append(time.perf_counter() - start)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return n / wall, cpu / n, latencies


def _available() -> list[str]:
    names = []
    for name, module in (("httpx", "httpx"), ("official_sdk", "highlevel")):
        try:
            __import__(module)
        except ImportError:
            note(f"{name}: not installed (pip install -r bench/requirements.txt); skipped")
            continue
        names.append(name)
    return [c for c in CONTENDERS if c in ("aiohttp", "ghlbridge") or c in names]


async def _measure(
    base_url: str, names: list[str], n: int, concurrency: int, rounds: int, warmup: int
) -> dict[str, dict[str, Phase]]:
    phases = {name: {"sequential": Phase(), "concurrent": Phase()} for name in names}
    async with contextlib.AsyncExitStack() as stack:
        calls = {name: await stack.enter_async_context(OPENERS[name](base_url)) for name in names}
        for name, call in calls.items():
            note(f"warming up {name}")
            await run_phase(call, warmup, 1)
            await run_phase(call, max(warmup, concurrency * 4), concurrency)
        for r in range(rounds):
            for name, call in calls.items():
                note(f"round {r + 1}/{rounds}: {name}")
                for phase, workers in (("sequential", 1), ("concurrent", concurrency)):
                    rate, cpu, latencies = await run_phase(call, n, workers)
                    phases[name][phase].rates.append(rate)
                    phases[name][phase].cpu_per_op.append(cpu)
                    phases[name][phase].latencies.extend(latencies)
    return phases


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def run(quick: bool, n: int | None, rounds: int | None, concurrency: int) -> dict[str, Any]:
    n = n or (500 if quick else 5000)
    rounds = rounds or (1 if quick else 3)
    warmup = 100 if quick else 500
    names = _available()
    with server_process("fixed") as server:
        phases = asyncio.run(_measure(server["base_url"], names, n, concurrency, rounds, warmup))

    results: dict[str, Any] = {
        "settings": {
            "operation": OPERATION,
            "calls_per_round": n,
            "concurrency": concurrency,
            "rounds": rounds,
            "warmup_calls": warmup,
            "pool_size": POOL_SIZE,
            "server": "raw asyncio HTTP/1.1 keep-alive in a separate process, fixed JSON body",
            "official_sdk_pool": "as shipped (httpx defaults: 100 connections, 20 kept alive)",
        }
    }
    for phase in ("sequential", "concurrent"):
        summaries = {name: phases[name][phase].summary() for name in names}
        results[phase] = {
            metric: {name: summaries[name][metric] for name in names}
            for metric in ("ops_per_s", "p50_ms", "p99_ms", "cpu_us_per_op")
        }
    seq, conc = results["sequential"]["ops_per_s"], results["concurrent"]["ops_per_s"]
    targets = {
        "ghlbridge_vs_aiohttp_sequential": (_ratio(seq["ghlbridge"], seq["aiohttp"]), 0.9),
        "ghlbridge_vs_aiohttp_concurrent": (_ratio(conc["ghlbridge"], conc["aiohttp"]), 0.9),
        "ghlbridge_vs_official_sdk_concurrent": (
            _ratio(conc["ghlbridge"], conc.get("official_sdk")),
            5.0,
        ),
    }
    results["targets"] = {
        key: {
            "value": value,
            "target": f">= {goal}",
            "met": None if value is None else value >= goal,
        }
        for key, (value, goal) in targets.items()
    }
    _print(results, names, concurrency)
    return results


def _print(results: dict[str, Any], names: list[str], concurrency: int) -> None:
    seq, conc = results["sequential"], results["concurrent"]
    rows = [
        [
            name,
            seq["ops_per_s"][name],
            seq["p50_ms"][name],
            seq["p99_ms"][name],
            seq["cpu_us_per_op"][name],
            conc["ops_per_s"][name],
            conc["p50_ms"][name],
            conc["p99_ms"][name],
            conc["cpu_us_per_op"][name],
        ]
        for name in names
    ]
    print_table(
        f"client: {OPERATION}, one at a time | {concurrency} at once",
        [
            "client",
            "1x ops/s",
            "p50 ms",
            "p99 ms",
            "CPU µs/op",
            f"{concurrency}x ops/s",
            "p50 ms",
            "p99 ms",
            "CPU µs/op",
        ],
        rows,
    )
    print_table(
        "client: targets",
        ["ratio", "value", "target", "met"],
        [[k, v["value"], v["target"], v["met"]] for k, v in results["targets"].items()],
    )
