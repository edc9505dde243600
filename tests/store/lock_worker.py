"""Child process for the cross-process lock test (run as a script, not collected).

Usage: lock_worker.py URL KEY OUT_FILE READY_FILE GO_FILE ITERATIONS HOLD_SECONDS
Each iteration enters ``locked(KEY)``, records enter/exit times (CLOCK_MONOTONIC, shared by
all processes on the host) in OUT_FILE, and increments a counter kept in the stored token:
a read-modify-write that loses updates unless the lock is exclusive.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from ghlbridge.store.db import create_engine
from ghlbridge.store.tokens import SQLTokenStore, TokenSet
from ghlbridge.store.vault import Vault


async def main(argv: list[str]) -> None:
    url, key, out, ready, go, iterations, hold = argv
    store = SQLTokenStore(create_engine(url), Vault([os.environ["GHLB_TEST_KEY"]]))
    await store.load(key)  # warm up: connect before the race starts
    Path(ready).touch()
    while not Path(go).exists():
        await asyncio.sleep(0.002)
    with open(out, "a") as records:
        for _ in range(int(iterations)):
            async with store.locked(key):
                entered = time.monotonic_ns()
                current = await store.load(key)
                count = int(current.access_token) if current else 0
                await asyncio.sleep(float(hold))
                await store.save(key, TokenSet(str(count + 1)))
                records.write(f"{os.getpid()} {entered} {time.monotonic_ns()}\n")
                records.flush()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
