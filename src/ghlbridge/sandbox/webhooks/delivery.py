"""Sends signed webhook deliveries in the background and keeps a log of each one.

A `WebhookSender` owns one daemon thread running its own event loop with an aiohttp session,
started on the first delivery, so it works the same under uvicorn, in-process tests and
plain scripts, and a slow receiver never stalls the sandbox's request path. Deliveries are
submitted from any thread; at most `queue_size` may be unfinished at once (more are logged
as failed, "queue full").

Like GHL, a delivery is retried only when the receiver answers 429: up to `max_retries`
more attempts, each `retry_interval` seconds (plus up to 10 % jitter) after the last. Any
other answer, or no answer, is final.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import aiohttp

from ghlbridge.sandbox.state import iso

log = logging.getLogger(__name__)

DeliveryStatus = Literal["queued", "retrying", "delivered", "failed", "dropped"]
FINAL: frozenset[DeliveryStatus] = frozenset({"delivered", "failed", "dropped"})
Signer = Callable[[bytes], dict[str, str]]


@dataclass(slots=True)
class Envelope:
    """One event as sent: its id, type, exact body bytes and (once made) signature headers."""

    webhook_id: str
    event_type: str
    location_id: str | None
    payload: dict[str, Any]
    body: bytes
    signatures: dict[str, str] | None = None


@dataclass(slots=True)
class Delivery:
    """One event to one URL, and what happened to it."""

    id: int
    envelope: Envelope
    url: str
    status: DeliveryStatus = "queued"
    attempts: int = 0
    responses: list[int] = field(default_factory=list)
    """The HTTP status of each attempt that got an answer."""
    error: str | None = None
    created_at: float = 0.0
    finished_at: float | None = None

    @property
    def webhook_id(self) -> str:
        return self.envelope.webhook_id

    @property
    def event_type(self) -> str:
        return self.envelope.event_type

    @property
    def payload(self) -> dict[str, Any]:
        return self.envelope.payload

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "webhookId": self.webhook_id,
            "type": self.event_type,
            "locationId": self.envelope.location_id,
            "url": self.url,
            "status": self.status,
            "attempts": self.attempts,
            "responses": list(self.responses),
            "error": self.error,
            "createdAt": iso(int(self.created_at * 1000)),
            "finishedAt": iso(int(self.finished_at * 1000)) if self.finished_at else None,
            "payload": self.payload,
        }


class WebhookSender:
    def __init__(
        self,
        signer: Signer,
        *,
        timeout: float = 10.0,
        retry_interval: float = 600.0,
        max_retries: int = 6,
        queue_size: int = 10_000,
        concurrency: int = 1,
        log_size: int = 10_000,
        seed: int = 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._signer = signer
        self._timeout = timeout
        self._retry_interval = retry_interval
        self._max_retries = max_retries
        self._queue_size = queue_size
        self._concurrency = concurrency
        self._log_size = log_size
        self._clock = clock
        self._jitter = random.Random(seed)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._log: list[Delivery] = []
        self._next_id = 1
        self._unfinished = 0
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[Delivery] | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._closed = False

    # -- any thread -----------------------------------------------------------------------
    def submit(self, envelope: Envelope, url: str, *, drop: bool = False) -> Delivery:
        """Queue one delivery (or log it as dropped without sending, for fault injection)."""
        with self._lock:
            delivery = Delivery(self._next_id, envelope, url, created_at=self._clock())
            self._next_id += 1
            self._log.append(delivery)
            if len(self._log) > self._log_size:
                del self._log[: len(self._log) - self._log_size]
            if drop:
                self._finish_locked(delivery, "dropped", "dropped by webhook_fault_rate")
                return delivery
            if self._closed:
                self._finish_locked(delivery, "failed", "sender closed")
                return delivery
            if self._unfinished >= self._queue_size:
                self._finish_locked(delivery, "failed", "delivery queue full")
                return delivery
            self._unfinished += 1
        self._start()
        loop = self._loop
        assert loop is not None and self._queue is not None
        loop.call_soon_threadsafe(self._queue.put_nowait, delivery)
        return delivery

    def deliveries(self) -> list[Delivery]:
        """Snapshots of the logged deliveries, oldest first."""
        with self._lock:
            return [replace(d, responses=list(d.responses)) for d in self._log]

    def unfinished(self) -> int:
        with self._lock:
            return self._unfinished

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until every submitted delivery is final; False on timeout."""
        with self._changed:
            return self._changed.wait_for(lambda: self._unfinished == 0, timeout)

    async def drain(self, timeout: float | None = None) -> bool:
        """`wait_idle` for async code (runs in a worker thread, the loop keeps going)."""
        return await asyncio.to_thread(self.wait_idle, timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the thread; deliveries not yet final stay as they are in the log."""
        with self._lock:
            self._closed = True
        loop, stop = self._loop, self._stop
        if loop is not None and stop is not None:
            with contextlib.suppress(RuntimeError):  # the loop already ended
                loop.call_soon_threadsafe(stop.set)
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    # -- the sender's thread --------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="sandbox-webhooks", daemon=True
                )
                self._thread.start()
        self._ready.wait()

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._queue = asyncio.Queue()
        self._stop = asyncio.Event()
        self._ready.set()
        connector = aiohttp.TCPConnector(limit=max(self._concurrency, 1) * 4)
        async with aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=self._timeout)
        ) as session:
            workers = [asyncio.create_task(self._worker(session)) for _ in range(self._concurrency)]
            await self._stop.wait()
            for worker in workers:
                worker.cancel()
            await asyncio.gather(*workers, return_exceptions=True)

    async def _worker(self, session: aiohttp.ClientSession) -> None:
        assert self._queue is not None
        while True:
            delivery = await self._queue.get()
            try:
                await self._attempt(session, delivery)
            except Exception as exc:  # never lose the worker to one bad delivery
                log.exception("webhook delivery %s failed", delivery.id)
                self._finish(delivery, "failed", f"sandbox error: {exc!r}")

    async def _attempt(self, session: aiohttp.ClientSession, delivery: Delivery) -> None:
        envelope = delivery.envelope
        if envelope.signatures is None:
            envelope.signatures = self._signer(envelope.body)
        headers = {"Content-Type": "application/json", **envelope.signatures}
        with self._lock:
            delivery.attempts += 1
        try:
            async with session.post(delivery.url, data=envelope.body, headers=headers) as resp:
                await resp.read()
                status = resp.status
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            self._finish(delivery, "failed", _describe(exc))
            return
        with self._lock:
            delivery.responses.append(status)
        if status == 429 and delivery.attempts <= self._max_retries:
            self._retry_later(delivery)
        elif 200 <= status < 300:
            self._finish(delivery, "delivered", None)
        else:
            self._finish(delivery, "failed", f"receiver answered {status}")

    def _retry_later(self, delivery: Delivery) -> None:
        assert self._loop is not None and self._queue is not None
        with self._lock:
            delivery.status = "retrying"
            delay = self._retry_interval * (1 + 0.1 * self._jitter.random())
        self._loop.call_later(delay, self._queue.put_nowait, delivery)

    def _finish(self, delivery: Delivery, status: DeliveryStatus, error: str | None) -> None:
        with self._lock:
            self._unfinished -= 1
            self._finish_locked(delivery, status, error)

    def _finish_locked(self, delivery: Delivery, status: DeliveryStatus, error: str | None) -> None:
        delivery.status = status
        delivery.error = error
        delivery.finished_at = self._clock()
        self._changed.notify_all()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    return f"{type(exc).__name__}: {exc}"
