"""`Webhooks`: the sandbox's webhook service, as GHL's marketplace app webhooks behave.

It subscribes to the `World`'s changes, maps each to GHL events (`events.EVENT_RULES`),
stamps every event with a ``webhookId`` (a seeded UUID) and an ISO 8601 ``timestamp``, and
hands one delivery per registered URL to the background `WebhookSender`, signed over the raw
body with the sandbox's keys. `webhook_fault_rate` drops a seeded share of deliveries
without sending them, as lost webhooks that a flow's catch-up poll must make up for.
"""

from __future__ import annotations

import contextlib
import json
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any

from ghlbridge.sandbox.ids import IdFactory, derive_seed
from ghlbridge.sandbox.settings import SandboxSettings, is_http_url
from ghlbridge.sandbox.state import Change, World, iso
from ghlbridge.sandbox.webhooks.delivery import Delivery, Envelope, WebhookSender
from ghlbridge.sandbox.webhooks.events import EventMapper, Payload
from ghlbridge.sandbox.webhooks.keys import PublicKeys, WebhookKeys


def check_url(url: str) -> str:
    if not is_http_url(url):
        raise ValueError(f"webhook URL {url!r}: expected an http(s) URL")
    return url


class Webhooks:
    """Registered URLs, the events published, their deliveries, and the signing keys."""

    def __init__(
        self,
        settings: SandboxSettings,
        world: World,
        *,
        clock: Callable[[], float] = time.time,
        mapper: EventMapper | None = None,
    ) -> None:
        self._settings = settings
        self._world = world
        self._mapper = mapper or EventMapper()
        self._ids = IdFactory(settings.seed, "webhooks")
        self._fault_rng = random.Random(derive_seed(settings.seed, "webhook-faults"))
        self._lock = threading.Lock()
        self._keys_lock = threading.Lock()
        self._keys: WebhookKeys | None = None
        self._urls: dict[str, frozenset[str] | None] = {
            check_url(url): None for url in settings.webhook_urls
        }
        self._published: deque[Envelope] = deque(maxlen=settings.webhook_log_size)
        self._muted: ContextVar[bool] = ContextVar(f"webhooks_muted_{id(self)}", default=False)
        self.sender = WebhookSender(
            self._sign,
            timeout=settings.webhook_timeout,
            retry_interval=settings.webhook_retry_interval,
            max_retries=settings.webhook_max_retries,
            queue_size=settings.webhook_queue_size,
            concurrency=settings.webhook_concurrency,
            log_size=settings.webhook_log_size,
            seed=derive_seed(settings.seed, "webhook-jitter"),
            clock=clock,
        )
        self._unsubscribe = world.subscribe(self.on_change)
        if settings.webhook_ed25519_key_file or settings.webhook_rsa_key_file:
            self.keys  # noqa: B018  (a bad key file fails here, at start)
        elif self._urls:  # make the seed's keys now, off the request path
            threading.Thread(
                target=self.public_keys, name="sandbox-webhook-keys", daemon=True
            ).start()

    # -- keys -----------------------------------------------------------------------------
    @property
    def keys(self) -> WebhookKeys:
        """The signing keys, made (or loaded) on first use."""
        with self._keys_lock:
            if self._keys is None:
                self._keys = WebhookKeys.load(
                    self._settings.seed,
                    ed25519_file=self._settings.webhook_ed25519_key_file,
                    rsa_file=self._settings.webhook_rsa_key_file,
                )
            return self._keys

    def public_keys(self) -> PublicKeys:
        return self.keys.public

    def _sign(self, body: bytes) -> dict[str, str]:
        return self.keys.sign(body)

    # -- URLs -----------------------------------------------------------------------------
    def urls(self) -> dict[str, list[str] | None]:
        """Each registered URL and the event types it takes (None: all)."""
        with self._lock:
            return {u: sorted(t) if t is not None else None for u, t in self._urls.items()}

    def add_url(self, url: str, events: Iterable[str] | None = None) -> None:
        """Deliver future events (or only those of the given types) to `url` too."""
        check_url(url)
        with self._lock:
            self._urls[url] = frozenset(events) if events is not None else None

    def remove_url(self, url: str) -> bool:
        with self._lock:
            return self._urls.pop(url, None) is not None

    # -- events ---------------------------------------------------------------------------
    def on_change(self, change: Change) -> None:
        """Publish the events a change raises (the `World` calls this on every change)."""
        if self._muted.get():
            return
        for payload in self._mapper.events(change):
            self.publish(payload)

    @contextlib.contextmanager
    def muted(self) -> Iterator[None]:
        """No events for the changes this thread (or task) makes inside the block."""
        token = self._muted.set(True)
        try:
            yield
        finally:
            self._muted.reset(token)

    def publish(self, payload: Payload) -> Envelope:
        """Stamp, log and deliver one event to every URL that takes its type."""
        with self._lock:
            stamped = {
                **payload,
                "webhookId": self._ids.new_secret(),
                "timestamp": iso(self._world.clock.now_ms()),  # never before the change's
            }
            envelope = Envelope(
                webhook_id=stamped["webhookId"],
                event_type=str(stamped.get("type", "")),
                location_id=stamped.get("locationId"),
                payload=stamped,
                body=_dumps(stamped),
            )
            self._published.append(envelope)
            targets = [
                (url, self._drawn_drop())
                for url, types in self._urls.items()
                if types is None or envelope.event_type in types
            ]
        for url, drop in targets:
            self.sender.submit(envelope, url, drop=drop)
        return envelope

    def _drawn_drop(self) -> bool:
        rate = self._settings.webhook_fault_rate
        return rate > 0 and self._fault_rng.random() < rate

    def events(self, event_type: str | None = None) -> list[dict[str, Any]]:
        """The payloads published so far (with webhookId and timestamp), oldest first."""
        with self._lock:
            return [
                e.payload
                for e in self._published
                if event_type is None or e.event_type == event_type
            ]

    def event_types(self) -> set[str]:
        """Every event type a data change can raise."""
        return self._mapper.event_types()

    # -- deliveries -----------------------------------------------------------------------
    def deliveries(self) -> list[Delivery]:
        return self.sender.deliveries()

    def wait_idle(self, timeout: float | None = None) -> bool:
        return self.sender.wait_idle(timeout)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until every delivery so far is final (delivered, failed or dropped)."""
        return await self.sender.drain(timeout)

    def close(self) -> None:
        """Stop listening and stop the sender (idempotent)."""
        unsubscribe, self._unsubscribe = self._unsubscribe, lambda: None
        unsubscribe()
        self.sender.close()


def _dumps(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
