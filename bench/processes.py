"""Runs a benchmark server (`servers.py`) in its own process, so it does not share the client's
event loop or its core; the server stops when we close its stdin, even if this process dies."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

SERVERS = Path(__file__).resolve().parent / "servers.py"


@contextlib.contextmanager
def server_process(
    kind: str, config: dict[str, Any] | None = None, *, ready_timeout: float = 300.0
) -> Iterator[dict[str, Any]]:
    """Start `servers.py KIND CONFIG`; yields the JSON line it prints once it serves."""
    with tempfile.TemporaryFile() as stderr:
        proc = subprocess.Popen(
            [sys.executable, str(SERVERS), kind, json.dumps(config or {})],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            yield _ready_line(proc, ready_timeout, stderr)
        finally:
            _stop(proc)


def _ready_line(proc: subprocess.Popen[bytes], timeout: float, stderr: IO[bytes]) -> dict[str, Any]:
    stdout = proc.stdout
    assert stdout is not None
    box: list[bytes] = []
    reader = threading.Thread(target=lambda: box.append(stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    line = box[0] if box else b""
    if not line:
        stderr.seek(0)
        tail = stderr.read().decode("utf-8", "replace")[-2000:]
        state = "exited" if proc.poll() is not None else f"not ready after {timeout:.0f} s"
        raise RuntimeError(f"benchmark server {state}:\n{tail}")
    info: dict[str, Any] = json.loads(line)
    return info


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.stdin is not None:
        with contextlib.suppress(OSError):
            proc.stdin.close()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()
