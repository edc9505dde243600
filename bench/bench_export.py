"""`export`: `ghlbridge export contacts.get_contacts --format jsonl` of a large location, run as
the CLI in its own process: its peak RSS (from the kernel's rusage of that process) and items/s.

The sandbox runs in another process with the contacts put in through its Python API, and
with its rate limit raised far above GHL's 100 requests / 10 s, so the export measures the
client, not the budget (at GHL's limit 100,000 contacts take 1,000 pages, about 100 s).
"""

from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from processes import server_process
from report import note, print_table

OPERATION = "contacts.get_contacts"
PAGE_SIZE = 100  # GHL's maximum for this operation
RAISED_LIMIT = (1_000_000, 10.0)


def _cli() -> list[str]:
    beside = Path(sys.executable).with_name("ghlbridge")
    found = str(beside) if beside.exists() else shutil.which("ghlbridge")
    if found is None:
        raise SystemExit("the ghlbridge command is not installed (pip install -e .)")
    return [found]


def run_measured(
    cmd: list[str], env: dict[str, str], stderr: IO[bytes]
) -> tuple[int, float, resource.struct_rusage]:
    """Exit code, wall seconds and the rusage of exactly that child process (os.wait4)."""
    started = time.perf_counter()
    proc = subprocess.Popen(
        cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=stderr
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    return proc.returncode, wall, usage


def _mb(usage: resource.struct_rusage) -> float:
    return round(usage.ru_maxrss / 1024, 1)  # Linux reports KiB


def _count_lines(path: Path) -> int:
    with path.open("rb") as fh:
        return sum(1 for _ in fh)


def run(quick: bool, contacts: int | None) -> dict[str, Any]:
    n = contacts or (10_000 if quick else 100_000)
    config = {
        "rate_limit": list(RAISED_LIMIT),
        "locations": 1,
        "contacts_per_location": n,
    }
    note(f"sandbox: seeding {n:,} contacts")
    with (
        server_process("sandbox", config, ready_timeout=900) as server,
        tempfile.TemporaryDirectory() as tmp,
    ):
        location = server["locations"][0]
        out = Path(tmp) / "contacts.jsonl"
        env = {
            **os.environ,
            "GHL_TOKEN": location["token"],
            "GHL_LOCATION_ID": location["id"],
            "GHL_BASE_URL": server["base_url"],
            "GHLBRIDGE_HOME": str(Path(tmp) / "home"),
        }
        cli = _cli()
        with tempfile.TemporaryFile() as err:
            # What the CLI holds before it exports anything: interpreter, imports, catalog.
            code, _, baseline = run_measured([*cli, "ops", "show", OPERATION, "--json"], env, err)
            note(f"ghlbridge export {OPERATION} --format jsonl --page-size {PAGE_SIZE}")
            code, wall, usage = run_measured(
                [*cli, "export", OPERATION, "--format", "jsonl", "--out", str(out),
                 "--page-size", str(PAGE_SIZE), "-p", f"locationId={location['id']}"],
                env,
                err,
            )  # fmt: skip
            err.seek(0)
            stderr_tail = err.read().decode("utf-8", "replace").strip().splitlines()[-3:]
        if code != 0:
            raise SystemExit(f"ghlbridge export failed ({code}): {' | '.join(stderr_tail)}")
        items = _count_lines(out)
        size_mb = round(out.stat().st_size / 1e6, 1)
    cpu = usage.ru_utime + usage.ru_stime
    results: dict[str, Any] = {
        "settings": {
            "command": f"ghlbridge export {OPERATION} -p locationId=... --format jsonl "
            f"--page-size {PAGE_SIZE} --out FILE",
            "contacts_seeded": n,
            "sandbox_rate_limit": f"{RAISED_LIMIT[0]:,} requests / {RAISED_LIMIT[1]:g} s "
            "(raised from GHL's 100 / 10 s so the export measures the client)",
            "seed_s": server.get("seed_s"),
        },
        "items": items,
        "peak_rss_mb": _mb(usage),
        "baseline_rss_mb": _mb(baseline),
        "items_per_s": round(items / wall, 1),
        "wall_s": round(wall, 2),
        "cpu_s": round(cpu, 2),
        "items_per_cpu_s": round(items / cpu, 1) if cpu else None,
        "file_mb": size_mb,
        "complete": items == n,
        "targets": {
            "peak_rss_mb": {"value": _mb(usage), "target": "< 150", "met": _mb(usage) < 150},
        },
    }
    print_table(
        f"export: {OPERATION} to JSONL through the CLI, {n:,} contacts",
        ["items", "peak RSS MB", "baseline RSS MB", "items/s", "wall s", "CPU s", "file MB"],
        [[items, results["peak_rss_mb"], results["baseline_rss_mb"], results["items_per_s"],
          results["wall_s"], results["cpu_s"], size_mb]],
    )  # fmt: skip
    if items != n:
        note(f"warning: exported {items:,} of {n:,} contacts")
    return results
