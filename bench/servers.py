"""Benchmark servers, each run in its own process by `processes.server_process`.

    python bench/servers.py fixed '{}'
    python bench/servers.py sandbox '{"locations": 3, "contacts_per_location": 100}'

Each prints one JSON line (its base URL and what a client needs) once it serves, then serves
until its stdin closes.

- `fixed`: a raw asyncio HTTP/1.1 keep-alive server answering every request with the same
  small contact body and GHL's rate-limit headers granting a huge budget. It does almost no
  work per request, so a client benchmark measures the client.
- `sandbox`: the ghlbridge sandbox on uvicorn, with extra locations (one PIT each) and
  contacts seeded through its Python API, not over HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from seeding import seed_contacts

from ghlbridge.cli.serving import serving
from ghlbridge.sandbox import RateLimit, Sandbox, SandboxSettings, create_app

FIXED_BODY = json.dumps(
    {
        "contact": {
            "id": "ocQHyuzHvysMo5N5VsXc",
            "locationId": "ve9EPM428h8vShlRW1KT",
            "firstName": "Rosalie",
            "lastName": "Kovacs",
            "email": "rosalie.kovacs@example.com",
            "phone": "+15555550123",
            "tags": ["bench", "vip"],
            "dateAdded": "2024-05-01T09:31:30.255Z",
        }
    },
    separators=(",", ":"),
).encode()
HUGE_BUDGET = {
    "X-RateLimit-Max": "100000000",
    "X-RateLimit-Remaining": "99999999",
    "X-RateLimit-Interval-Milliseconds": "10000",
    "X-RateLimit-Limit-Daily": "1000000000",
    "X-RateLimit-Daily-Remaining": "999999999",
}
FIXED_RESPONSE = (
    b"HTTP/1.1 200 OK\r\n"
    b"Content-Type: application/json; charset=utf-8\r\n"
    + b"".join(f"{k}: {v}\r\n".encode() for k, v in HUGE_BUDGET.items())
    + f"Content-Length: {len(FIXED_BODY)}\r\n\r\n".encode()
    + FIXED_BODY
)


class FixedHttp(asyncio.Protocol):
    """Answers each complete request (head plus Content-Length bytes) with FIXED_RESPONSE."""

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        answers = 0
        while True:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            size = end + 4 + _content_length(bytes(self._buffer[:end]))
            if len(self._buffer) < size:
                break
            del self._buffer[:size]
            answers += 1
        if answers and self._transport is not None:
            self._transport.write(FIXED_RESPONSE * answers)


def _content_length(head: bytes) -> int:
    lower = head.lower()
    at = lower.find(b"\r\ncontent-length:")
    if at < 0:
        return 0
    value = lower[at + 17 :].split(b"\r\n", 1)[0]
    return int(value.strip() or b"0")


async def _stdin_closed() -> None:
    await asyncio.to_thread(sys.stdin.buffer.read)


async def serve_fixed(_: dict[str, Any]) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FixedHttp, "127.0.0.1", 0, backlog=1024)
    port = server.sockets[0].getsockname()[1]
    _announce({"base_url": f"http://127.0.0.1:{port}"})
    async with server:
        await _stdin_closed()


async def serve_sandbox(config: dict[str, Any]) -> None:
    max_requests, interval = config.get("rate_limit", (100, 10.0))
    settings = SandboxSettings(
        seed=int(config.get("seed", 0)), rate_limit=RateLimit(max_requests, interval)
    )
    sandbox = Sandbox(settings)
    started = time.perf_counter()
    locations = [(sandbox.location_id, sandbox.location_token.value)]
    per_location = int(config.get("contacts_per_location", 0))
    with _quiet(sandbox):
        for _ in range(int(config.get("locations", 1)) - 1):
            loc, pit = sandbox.add_location()
            locations.append((loc.id, pit.value))
        for location_id, _token in locations:
            seed_contacts(sandbox.location(location_id), per_location)
    seed_s = time.perf_counter() - started
    async with serving(create_app(sandbox=sandbox)) as base_url:
        _announce(
            {
                "base_url": base_url,
                "locations": [{"id": i, "token": t} for i, t in locations],
                "seed_s": round(seed_s, 3),
            }
        )
        await _stdin_closed()
    close = getattr(sandbox, "close", None)  # newer sandboxes own a webhook sender thread
    if callable(close):
        close()


def _quiet(sandbox: Sandbox) -> contextlib.AbstractContextManager[object]:
    """No webhook events for the seed data, where the sandbox sends webhooks."""
    webhooks = getattr(sandbox, "webhooks", None)
    muted = getattr(webhooks, "muted", None)
    return muted() if callable(muted) else contextlib.nullcontext()


def _announce(info: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(info) + "\n")
    sys.stdout.flush()


KINDS = {"fixed": serve_fixed, "sandbox": serve_sandbox}


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in KINDS:
        raise SystemExit(f"usage: servers.py {{{'|'.join(KINDS)}}} [CONFIG_JSON]")
    config = json.loads(argv[2]) if len(argv) > 2 else {}
    asyncio.run(KINDS[argv[1]](config))


if __name__ == "__main__":
    main(sys.argv)
