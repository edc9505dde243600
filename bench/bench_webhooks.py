"""`webhooks`: GHL webhook ingress of `ghlbridge serve`, from a signed POST to the first step.

`ghlbridge serve` runs as its own process (a temporary GHLBRIDGE_HOME, SQLite, a free port,
freshly generated Ed25519 and RSA public keys, the webhook rate limit raised) with one flow:
on `ContactCreate`, an `http.request` POST to a tiny receiver on 127.0.0.1 in this process.
A loopback load generator (aiohttp, this process) posts N signed ContactCreate webhooks
(unique webhookId and contact id, current timestamp) at a fixed concurrency.

- events/s: accepted (2xx) answers / wall time of the send phase (the server answers only
  after the event and its runs are committed, so each 2xx is an event stored durably);
- ack latency: send to answer, per webhook;
- receipt to first step: from the moment the webhook was sent to the moment its flow's
  first (and only) step reached the receiver. Both clocks are this process's
  `time.perf_counter`, so no cross-process clock is involved; it includes the network hop
  of the step's request, so it slightly overstates the engine's own delay.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from report import latency_ms, note, print_table

LOCATION_ID = "ve9EPM428h8vShlRW1KT"
FLOW = """\
name: bench-contact-created
description: benchmark flow, one cheap step to a local receiver
trigger:
  webhook:
    event: ContactCreate
steps:
  - id: push
    action: http.request
    with:
      method: POST
      url: "{url}"
      json:
        id: "{{{{ trigger.id }}}}"
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _pem_public(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@contextlib.contextmanager
def serve_process(
    home: Path, flows_dir: Path, env_extra: dict[str, str], concurrency: int
) -> Iterator[str]:
    """Start `ghlbridge serve`; yields its base URL (read from its "listening on" line)."""
    port = _free_port()
    env = {**os.environ, **env_extra, "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).with_name("ghlbridge")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "ghlbridge"]
    cmd += ["serve", "--host", "127.0.0.1", "--port", str(port), "--flows-dir", str(flows_dir)]
    cmd += ["--concurrency", str(concurrency)]
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=stderr, env=env
        )
        try:
            yield _listening(proc, stderr, timeout=60.0)
        finally:
            proc.terminate()  # SIGTERM: a graceful stop
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


def _listening(proc: subprocess.Popen[bytes], stderr: Any, timeout: float) -> str:
    stdout = proc.stdout
    assert stdout is not None
    box: list[str] = []

    def read() -> None:
        for raw in stdout:
            line = raw.decode("utf-8", "replace")
            if "listening on " in line:
                box.append(line.split("listening on ", 1)[1].split()[0])
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    if not box:
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace")[-2000:]
        state = "exited" if proc.poll() is not None else f"not ready after {timeout:.0f} s"
        raise RuntimeError(f"ghlbridge serve {state}:\n{tail}")
    # keep draining stdout so the server never blocks on a full pipe
    threading.Thread(target=lambda: [None for _ in stdout], daemon=True).start()
    return box[0].rstrip(";")


async def _load(
    base_url: str,
    key: ed25519.Ed25519PrivateKey,
    n: int,
    concurrency: int,
    arrivals: dict[str, float],
    drain_timeout: float,
) -> dict[str, Any]:
    url = f"{base_url}/webhooks/ghl"
    sent_at: dict[str, float] = {}
    acks: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    accepted_ids: set[str] = set()
    counter = iter(range(n))

    def body() -> tuple[str, bytes]:
        contact = uuid.uuid4().hex[:20]
        payload = {
            "type": "ContactCreate",
            "webhookId": str(uuid.uuid4()),
            "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "locationId": LOCATION_ID,
            "id": contact,
            "firstName": "Rosalie",
            "lastName": "Kovacs",
            "email": f"{contact}@example.com",
            "tags": ["bench"],
            "dateAdded": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
        return contact, json.dumps(payload, separators=(",", ":")).encode()

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal errors
        for _ in counter:
            contact, raw = body()
            signature = base64.b64encode(key.sign(raw)).decode()
            headers = {"Content-Type": "application/json", "x-ghl-signature": signature}
            started = time.perf_counter()
            sent_at[contact] = started
            try:
                async with session.post(url, data=raw, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except aiohttp.ClientError:
                errors += 1
                continue
            acks.append(time.perf_counter() - started)
            statuses[status] = statuses.get(status, 0) + 1
            if 200 <= status < 300:
                accepted_ids.add(contact)

    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        begun = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        send_s = time.perf_counter() - begun
    expected = len(accepted_ids)

    def done() -> bool:
        return sum(1 for c in accepted_ids if c in arrivals) >= expected

    deadline = time.perf_counter() + drain_timeout
    while not done() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    drained_s = time.perf_counter() - begun
    to_step = [arrivals[c] - sent_at[c] for c in accepted_ids if c in arrivals]
    return {
        "send_s": send_s,
        "drained_s": drained_s,
        "acks": acks,
        "to_step": to_step,
        "statuses": statuses,
        "errors": errors,
        "accepted": expected,
    }


async def _run_async(
    base_url: str,
    key: ed25519.Ed25519PrivateKey,
    n: int,
    concurrency: int,
    arrivals: dict[str, float],
    receiver: web.AppRunner,
    warmup: int,
) -> dict[str, Any]:
    if warmup:
        await _load(base_url, key, warmup, min(concurrency, 8), arrivals, 30.0)
        arrivals.clear()
    try:
        return await _load(base_url, key, n, concurrency, arrivals, 120.0)
    finally:
        await receiver.cleanup()


async def _start_receiver(arrivals: dict[str, float]) -> tuple[web.AppRunner, int]:
    async def handle(request: web.Request) -> web.Response:
        data = await request.json()
        arrivals.setdefault(str(data.get("id")), time.perf_counter())
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_post("/step", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    server = site._server
    assert server is not None and server.sockets
    return runner, server.sockets[0].getsockname()[1]


def run(quick: bool, n: int | None, concurrency: int | None, workers: int | None) -> dict[str, Any]:
    n = n or (500 if quick else 5000)
    concurrency = concurrency or 32
    workers = workers or 32
    ed_key = ed25519.Ed25519PrivateKey.generate()
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    arrivals: dict[str, float] = {}

    async def main() -> dict[str, Any]:
        receiver, port = await _start_receiver(arrivals)
        with tempfile.TemporaryDirectory(prefix="ghlbridge-bench-") as tmp:
            home, flows = Path(tmp) / "home", Path(tmp) / "flows"
            home.mkdir()
            flows.mkdir()
            (flows / "bench.yaml").write_text(FLOW.format(url=f"http://127.0.0.1:{port}/step"))
            env = {
                "GHLBRIDGE_HOME": str(home),
                "GHLBRIDGE_WEBHOOK_ED25519_PUBLIC_KEY": _pem_public(ed_key),
                "GHLBRIDGE_WEBHOOK_RSA_PUBLIC_KEY": _pem_public(rsa_key),
                "GHLBRIDGE_WEBHOOK_RATE_LIMIT": "1000000/second",
                "GHLBRIDGE_HTTP_ALLOW_PRIVATE": "1",
            }
            env.pop("GHLBRIDGE_DATABASE_URL", None)
            os.environ.pop("GHLBRIDGE_DATABASE_URL", None)  # SQLite in the temporary home
            with serve_process(home, flows, env, workers) as base_url:
                note(f"ghlbridge serve at {base_url}; {n} webhooks, {concurrency} at once")
                warmup = 20
                return await _run_async(
                    base_url, ed_key, n, concurrency, arrivals, receiver, warmup
                )

    raw = asyncio.run(main())
    acks = latency_ms(raw["acks"])
    to_step = latency_ms(raw["to_step"])
    statuses: dict[int, int] = raw["statuses"]
    accepted = raw["accepted"]
    n4xx = sum(v for k, v in statuses.items() if 400 <= k < 500)
    n5xx = sum(v for k, v in statuses.items() if k >= 500)
    failed = n - accepted
    events_per_s = accepted / raw["send_s"] if raw["send_s"] else 0.0
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    results: dict[str, Any] = {
        "events_per_s": round(events_per_s, 1),
        "p50_ms": to_step["p50"],
        "p99_ms": to_step["p99"],
        "ack_p50_ms": acks["p50"],
        "ack_p99_ms": acks["p99"],
        "accepted": accepted,
        "failed": failed,
        "n4xx": n4xx,
        "n5xx": n5xx,
        "connection_errors": raw["errors"],
        "first_steps_seen": len(raw["to_step"]),
        "send_s": round(raw["send_s"], 3),
        "drained_s": round(raw["drained_s"], 3),
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "latency_source": "receiver arrival (this process's perf_counter) minus send time",
        "settings": {"n": n, "concurrency": concurrency, "engine_workers": workers},
        "targets": {
            "events_per_s_per_core": {
                "value": round(events_per_s, 1),
                "target": 2000,
                "met": events_per_s >= 2000,
                "note": f"whole-machine figure; {cpus} usable cores, client on the same host",
            },
            "p99_ms": {
                "value": to_step["p99"],
                "target": 50,
                "met": to_step["p99"] is not None and to_step["p99"] < 50,
            },
        },
    }
    print_table(
        f"webhooks: {n} signed ContactCreate, {concurrency} at once, serve --concurrency {workers}",
        [
            "events/s",
            "ack p50 ms",
            "ack p99 ms",
            "to step p50 ms",
            "to step p99 ms",
            "accepted",
            "failed",
            "4xx",
            "5xx",
        ],
        [
            [
                events_per_s,
                acks["p50"],
                acks["p99"],
                to_step["p50"],
                to_step["p99"],
                accepted,
                failed,
                n4xx,
                n5xx,
            ]
        ],
    )
    return results
