"""Runs one benchmark, prints its table and writes its JSON (see bench/README.md).

    python bench/run.py client|ratelimit|export|webhooks [--quick] [--out FILE.json]

Benchmarks are never part of the test suite and never fail CI: they report, they do not judge
(the exit code is non-zero only when a benchmark could not run at all).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from report import default_out, machine, note, write_json

NAMES = ("client", "ratelimit", "export", "webhooks")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench/run.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("name", choices=NAMES, help="which benchmark")
    parser.add_argument("--quick", action="store_true", help="small sizes, to check it works")
    parser.add_argument("--out", type=Path, help="JSON file (default bench/results/NAME.json)")
    client = parser.add_argument_group("client")
    client.add_argument("--n", type=int, help="calls per contender, round and phase")
    client.add_argument("--rounds", type=int, help="rounds (median ops/s is reported)")
    client.add_argument("--concurrency", type=int, help="calls at once (client: 50; webhooks: 32)")
    rate = parser.add_argument_group("ratelimit")
    rate.add_argument("--pages", type=int, help="pages (requests) from the single location")
    rate.add_argument("--locations", type=int, help="locations exported at once")
    rate.add_argument("--pages-each", type=int, help="pages (requests) per location at once")
    export = parser.add_argument_group("export")
    export.add_argument("--contacts", type=int, help="contacts to export")
    hooks = parser.add_argument_group("webhooks")
    hooks.add_argument("--events", type=int, help="webhooks to post (500 quick, 5000 full)")
    hooks.add_argument("--engine-workers", type=int, help="serve --concurrency (32)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    host = machine()
    results: dict[str, Any]
    if args.name == "client":
        from bench_client import run as run_client

        results = run_client(args.quick, args.n, args.rounds, args.concurrency or 50)
    elif args.name == "ratelimit":
        from bench_ratelimit import run as run_ratelimit

        results = run_ratelimit(args.quick, args.pages, args.locations, args.pages_each)
    elif args.name == "webhooks":
        from bench_webhooks import run as run_webhooks

        results = run_webhooks(args.quick, args.events, args.concurrency, args.engine_workers)
    else:
        from bench_export import run as run_export

        results = run_export(args.quick, args.contacts)
    path = write_json(args.out or default_out(args.name), args.name, args.quick, host, results)
    note(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
