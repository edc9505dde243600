"""`ratelimit`: how much of GHL's budget an export uses, against the sandbox with GHL's limits.

The sandbox (own process, uvicorn on a real port) enforces GHL's 100 requests / 10 s per
location. Each task exports pages one request per page (`contacts.search_contacts_advanced`,
one contact per page, the next page asked with the last `searchAfter`), first from one
location, then from many locations at once, each location with its own PIT:

- ghlbridge: one `GHLClient` for all locations; its limiter keeps one budget per location;
- the official SDK: one `HighLevel(private_integration_token=...)` per location, in a plain
  loop (no retry: a failed page is counted and asked again on the next turn of the loop),
  so it sends the same number of requests; it has no rate limiter, so it meets 429s.

Utilisation (per location, then averaged): the sandbox counts a request when it arrives, so
request i+max may arrive no earlier than `interval` after request i. For every such pair,
achieved rate / allowed rate = interval / (t[i+max] - t[i]); a client that sends the moment
the budget allows scores 1.0. It does not depend on how many pages are asked or how fast the
sandbox answers a burst. `overall` is the whole-run ratio requests / (max * (elapsed /
interval + 1)), which also counts the time the last window's burst took to be served.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from processes import server_process
from report import latency_ms, note, print_table

from ghlbridge.catalog import Operation
from ghlbridge.client import AiohttpTransport, GHLClient, GHLError, HttpRequest, HttpResponse

OPERATION = "contacts.search_contacts_advanced"
MAX_REQUESTS, INTERVAL = 100, 10.0  # GHL's burst limit per location


@dataclass
class LocationRun:
    """One location's export: when each request left, and how it ended."""

    location_id: str
    sends: list[float] = field(default_factory=list)
    rtts: list[float] = field(default_factory=list)
    pages: int = 0
    n429: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)
    started: float = 0.0
    ended: float = 0.0

    def pacing(self) -> float | None:
        """Mean of interval / (t[i+max] - t[i]) over the requests the server accepted."""
        t = self.sends
        ratios = [INTERVAL / (t[i + MAX_REQUESTS] - t[i]) for i in range(len(t) - MAX_REQUESTS)]
        return statistics.fmean(ratios) if ratios else None

    def overall(self) -> float | None:
        if len(self.sends) < 2:
            return None
        elapsed = self.sends[-1] - self.sends[0]
        return len(self.sends) / (MAX_REQUESTS * (elapsed / INTERVAL + 1))


class TokenPerLocation:
    """`Auth` with one PIT per location, as an agency holding each sub-account's PIT would."""

    def __init__(self, tokens: Mapping[str, str]) -> None:
        self._tokens = dict(tokens)

    async def token(self, op: Operation, *, location_id: str | None, company_id: str | None) -> str:
        if location_id is None or location_id not in self._tokens:
            raise LookupError(f"no PIT for location {location_id!r}")
        return self._tokens[location_id]

    async def refresh_after_401(
        self, op: Operation, rejected_token: str, *, location_id: str | None, company_id: str | None
    ) -> bool:
        return False


class RecordingTransport:
    """The production transport, noting when each request leaves and which location it is for
    (by its token); a 429 answer is taken out again, as the server did not count it."""

    def __init__(self, runs_by_token: Mapping[str, LocationRun]) -> None:
        self._inner = AiohttpTransport()
        self._runs = runs_by_token

    async def send(self, request: HttpRequest) -> HttpResponse:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        run = self._runs[token]
        sent = time.perf_counter()
        response = await self._inner.send(request)
        if response.status != 429:
            run.sends.append(sent)
            run.rtts.append(time.perf_counter() - sent)
        return response

    async def close(self) -> None:
        await self._inner.close()


async def export_ghlbridge(
    base_url: str, locations: list[dict[str, str]], pages: int
) -> list[LocationRun]:
    runs = {loc["token"]: LocationRun(loc["id"]) for loc in locations}
    auth = TokenPerLocation({loc["id"]: loc["token"] for loc in locations})
    transport = RecordingTransport(runs)
    async with GHLClient(auth, base_url=base_url, transport=transport) as client:

        async def export(run: LocationRun) -> None:
            run.started = time.perf_counter()
            pager = client.pager(
                OPERATION, body={"locationId": run.location_id}, page_size=1, max_pages=pages
            )
            try:
                async for _ in pager.pages():
                    run.pages += 1
            except GHLError as exc:
                run.failed += 1
                run.errors.append(str(exc))
            run.ended = time.perf_counter()

        await asyncio.gather(*(export(run) for run in runs.values()))
        snapshot = client.rate_limiter.snapshot()
    for run in runs.values():
        run.n429 = int(snapshot.get(f"{client.app_key}:{run.location_id}", {}).get("n429", 0))
    return list(runs.values())


async def export_official_sdk(
    base_url: str, locations: list[dict[str, str]], pages: int
) -> list[LocationRun]:
    from highlevel import GHLError as SDKError
    from highlevel import HighLevel

    async def export(location: dict[str, str]) -> LocationRun:
        run = LocationRun(location["id"])
        ghl = HighLevel(private_integration_token=location["token"], log_level="none")
        ghl.http_client.base_url = base_url
        cursor: Any = None
        run.started = time.perf_counter()
        try:
            for _ in range(pages):
                body: dict[str, Any] = {"locationId": run.location_id, "pageLimit": 1}
                if cursor is not None:
                    body["searchAfter"] = cursor
                sent = time.perf_counter()
                try:
                    data = await ghl.contacts.search_contacts_advanced(body)
                except SDKError as exc:
                    run.failed += 1
                    run.n429 += exc.status_code == 429
                    if exc.status_code != 429 and len(run.errors) < 3:
                        run.errors.append(f"{exc.status_code}: {exc.message}")
                    continue
                run.sends.append(sent)
                run.rtts.append(time.perf_counter() - sent)
                run.pages += 1
                contacts = data.get("contacts") or []
                if not contacts:
                    break
                cursor = contacts[-1].get("searchAfter")
        finally:
            run.ended = time.perf_counter()
            await ghl.close()
        return run

    return list(await asyncio.gather(*(export(loc) for loc in locations)))


def summarize(runs: list[LocationRun], pages: int, *, paced: bool) -> dict[str, Any]:
    """Totals of one task; utilisation only for a client that paces itself (`paced`)."""
    pacing = [p for r in runs if (p := r.pacing()) is not None] if paced else []
    overall = [o for r in runs if (o := r.overall()) is not None] if paced else []
    elapsed = max(r.ended for r in runs) - min(r.started for r in runs)
    return {
        "locations": len(runs),
        "pages_asked_per_location": pages,
        "pages_exported": sum(r.pages for r in runs),
        "requests_accepted": sum(len(r.sends) for r in runs),
        "elapsed_s": round(elapsed, 2),
        "utilisation": round(statistics.fmean(pacing), 4) if pacing else None,
        "utilisation_min": round(min(pacing), 4) if pacing else None,
        "utilisation_overall": round(statistics.fmean(overall), 4) if overall else None,
        "answer_ms": latency_ms([t for r in runs for t in r.rtts]),
        "n429": sum(r.n429 for r in runs),
        "failed": sum(r.failed for r in runs),
        "errors": [e for r in runs for e in r.errors][:5],
    }


def _location_groups(n_one: int, n_many: int) -> dict[str, range]:
    """Disjoint locations per task, so no task starts in a window another task filled."""
    sizes = {"ghlbridge_one": n_one, "ghlbridge_many": n_many, "sdk_one": n_one, "sdk_many": n_many}
    groups, at = {}, 0
    for name, size in sizes.items():
        groups[name] = range(at, at + size)
        at += size
    return groups


def run(
    quick: bool,
    pages: int | None,
    n_locations: int | None,
    pages_each: int | None,
) -> dict[str, Any]:
    pages = pages or (200 if quick else 1000)
    n_locations = n_locations or (10 if quick else 50)
    pages_each = pages_each or (200 if quick else 500)
    groups = _location_groups(1, n_locations)
    total = sum(len(g) for g in groups.values())
    config = {
        "rate_limit": [MAX_REQUESTS, INTERVAL],
        "locations": total,
        "contacts_per_location": max(pages, pages_each) + 1,
    }
    note(f"sandbox: {total} locations, {config['contacts_per_location']} contacts each")
    with server_process("sandbox", config) as server:
        base_url, locations = server["base_url"], server["locations"]

        def pick(name: str) -> list[dict[str, str]]:
            return [locations[i] for i in groups[name]]

        tasks = [
            ("ghlbridge", "one_location", export_ghlbridge, pick("ghlbridge_one"), pages),
            ("ghlbridge", "many_locations", export_ghlbridge, pick("ghlbridge_many"), pages_each),
            ("official_sdk", "one_location", export_official_sdk, pick("sdk_one"), pages),
            ("official_sdk", "many_locations", export_official_sdk, pick("sdk_many"), pages_each),
        ]
        scenarios: dict[str, dict[str, Any]] = {"ghlbridge": {}, "official_sdk": {}}
        for client, scenario, export, locs, n_pages in tasks:
            if client == "official_sdk" and not _sdk_installed():
                continue
            note(f"{client}: {scenario}, {len(locs)} location(s) x {n_pages} pages")
            runs = asyncio.run(export(base_url, locs, n_pages))
            scenarios[client][scenario] = summarize(runs, n_pages, paced=client == "ghlbridge")

    ours = scenarios["ghlbridge"]
    utilisations = [s["utilisation"] for s in ours.values() if s["utilisation"] is not None]
    results: dict[str, Any] = {
        "settings": {
            "operation": OPERATION,
            "page_size": 1,
            "rate_limit": f"{MAX_REQUESTS} requests / {INTERVAL:g} s per location (GHL's)",
            "server": "ghlbridge sandbox on uvicorn, separate process",
            "utilisation": "mean over locations of mean interval / (t[i+max] - t[i])",
        },
        "utilisation": min(utilisations) if utilisations else None,
        "n429": sum(s["n429"] for s in ours.values()),
        "failed": sum(s["failed"] for s in ours.values()),
        "scenarios": ours,
        "official_sdk": {
            "n429": sum(s["n429"] for s in scenarios["official_sdk"].values()),
            "failed": sum(s["failed"] for s in scenarios["official_sdk"].values()),
            "scenarios": scenarios["official_sdk"],
        },
    }
    results["targets"] = {
        "utilisation": {"value": results["utilisation"], "target": ">= 0.98"},
        "n429": {"value": results["n429"], "target": "0"},
        "failed": {"value": results["failed"], "target": "0"},
    }
    results["targets"]["utilisation"]["met"] = (results["utilisation"] or 0) >= 0.98
    results["targets"]["n429"]["met"] = results["n429"] == 0
    results["targets"]["failed"]["met"] = results["failed"] == 0
    _print(scenarios)
    return results


def _sdk_installed() -> bool:
    try:
        import highlevel  # noqa: F401
    except ImportError:
        note("official_sdk: not installed (pip install -r bench/requirements.txt); skipped")
        return False
    return True


def _print(scenarios: dict[str, dict[str, dict[str, Any]]]) -> None:
    rows = [
        [
            client,
            s["locations"],
            s["pages_asked_per_location"],
            s["pages_exported"],
            s["elapsed_s"],
            s["utilisation"],
            s["utilisation_overall"],
            s["answer_ms"]["p50"],
            s["n429"],
            s["failed"],
        ]
        for client, by_scenario in scenarios.items()
        for s in by_scenario.values()
    ]
    print_table(
        f"ratelimit: {OPERATION}, 1 page per request, {MAX_REQUESTS} requests / {INTERVAL:g} s",
        [
            "client",
            "locations",
            "pages/loc",
            "pages ok",
            "elapsed s",
            "utilisation",
            "overall",
            "answer p50 ms",
            "429s",
            "failed",
        ],
        rows,
    )
    for client, by_scenario in scenarios.items():
        for name, s in by_scenario.items():
            for error in s["errors"][:2]:
                note(f"{client} {name}: {error}")
            asked = s["locations"] * s["pages_asked_per_location"]
            if client == "ghlbridge" and s["pages_exported"] < asked:
                note(f"warning: {client} {name} exported {s['pages_exported']} of {asked} pages")
