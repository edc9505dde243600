"""A blocking facade over `GHLClient` for scripts and the CLI: one private event loop, no copies of
the async logic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Iterator, Mapping
from typing import Any

from ghlbridge.client.client import GHLClient


class SyncGHLClient:
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._runner = asyncio.Runner()
        self._client: GHLClient = self._runner.run(_make(args, kwargs))

    @classmethod
    def from_env(cls, **kwargs: Any) -> SyncGHLClient:
        self = cls.__new__(cls)
        self._runner = asyncio.Runner()
        self._client = self._runner.run(_make_from_env(kwargs))
        return self

    @property
    def client(self) -> GHLClient:
        return self._client

    def call(self, op_id: str, params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        return self._runner.run(self._client.call(op_id, params, body))

    def paginate(
        self,
        op_id: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        *,
        page_size: int | None = None,
    ) -> Iterator[Any]:
        agen: AsyncGenerator[Any, None] = self._client.paginate(
            op_id, params, body, page_size=page_size
        )
        try:
            while True:
                try:
                    yield self._runner.run(_next(agen))
                except StopAsyncIteration:
                    return
        finally:
            self._runner.run(agen.aclose())

    def close(self) -> None:
        self._runner.run(self._client.aclose())
        self._runner.close()

    def __enter__(self) -> SyncGHLClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


async def _make(args: tuple[Any, ...], kwargs: dict[str, Any]) -> GHLClient:
    return GHLClient(*args, **kwargs)


async def _make_from_env(kwargs: dict[str, Any]) -> GHLClient:
    return GHLClient.from_env(**kwargs)


async def _next(agen: AsyncGenerator[Any, None]) -> Any:
    return await agen.__anext__()
