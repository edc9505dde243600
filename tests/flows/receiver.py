"""A partner API test double that receives pushed data, counting deliveries per item.

The partner contract (as real partner APIs offer it, e.g. Stripe's): a POST that carries an
``Idempotency-Key`` it has seen before is not processed again; the first answer is returned
instead. So a sender that re-sends after an unknown outcome with the same key causes one
delivery. `counts` holds processed deliveries per item id (``_id`` or ``id`` of the JSON body).
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ghlbridge.cli.serving import serving

T = TypeVar("T")


class Receiver:
    def __init__(self, *, delay: float = 0.0) -> None:
        self.counts: Counter[str] = Counter()
        self.requests = 0
        self.replayed = 0
        self.delay = delay
        self.missing_key = 0
        self._answers: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.app = Starlette(routes=[Route("/hook", self._hook, methods=["POST"])])

    async def _hook(self, request: Request) -> Response:
        body = await request.body()
        key = request.headers.get("idempotency-key")
        with self._lock:
            self.requests += 1
            if key is None:
                self.missing_key += 1
            elif key in self._answers:
                self.replayed += 1
                return Response(self._answers[key], media_type="application/json")
            data: Any = json.loads(body or b"null")
            item = data.get("_id") or data.get("id") if isinstance(data, dict) else None
            self.counts[str(item)] += 1
            answer = json.dumps({"received": item, "n": self.counts[str(item)]}).encode()
            if key is not None:
                self._answers[key] = answer
        if self.delay:
            await asyncio.sleep(self.delay)  # processed, answer not yet sent: a kill here
        return Response(answer, media_type="application/json")  # leaves the outcome unknown


class Served:
    """A server running in a thread: its URL, and `call` to run code on its loop."""

    def __init__(self, url: str, loop: asyncio.AbstractEventLoop) -> None:
        self.url = url
        self._loop = loop

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the server's loop (so it never races a request) and return its value."""

        async def run() -> T:
            return fn()

        return asyncio.run_coroutine_threadsafe(run(), self._loop).result(10)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[Served]:
    """Serve an ASGI app on 127.0.0.1 from a thread with its own loop."""
    ready = threading.Event()
    url: list[str] = []
    stop: list[asyncio.Event] = []
    loop_box: list[asyncio.AbstractEventLoop] = []
    error: list[BaseException] = []

    async def main() -> None:
        stop.append(asyncio.Event())
        loop_box.append(asyncio.get_running_loop())
        async with serving(app) as base:
            url.append(base)
            ready.set()
            await stop[0].wait()

    def run() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced to the test below
            error.append(exc)
            ready.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    ready.wait(10)
    if error or not url:
        raise RuntimeError(f"could not serve: {error}")
    try:
        yield Served(url[0], loop_box[0])
    finally:
        loop_box[0].call_soon_threadsafe(stop[0].set)
        thread.join(10)
