"""`ghlbridge call` and `ghlbridge export`: ad-hoc calls and bulk exports of any operation."""

from __future__ import annotations

import asyncio
import csv
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from ghlbridge.cli.errors import UsageError, reports_errors
from ghlbridge.cli.inputs import parse_body, parse_params
from ghlbridge.cli.ops import resolve
from ghlbridge.cli.session import open_client
from ghlbridge.client import GHLClient

ParamOpt = Annotated[
    list[str] | None, typer.Option("-p", "--param", help="name=value (repeat for lists).")
]
BodyOpt = Annotated[str | None, typer.Option("--body", help="JSON, @file or @- for stdin.")]
ConnOpt = Annotated[
    str | None, typer.Option("--connection", "-c", help="Stored connection (default: env).")
]


@reports_errors
def call(
    op_name: Annotated[str, typer.Argument(metavar="OP", help="Operation id or curated name.")],
    param: ParamOpt = None,
    body: BodyOpt = None,
    all_pages: Annotated[bool, typer.Option("--all-pages", help="Follow every page.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Compact JSON output.")] = False,
    connection: ConnOpt = None,
) -> None:
    """Call one operation and print its JSON result."""
    op = resolve(op_name)
    params, payload = parse_params(param), parse_body(body)

    async def run() -> Any:
        async with open_client(connection) as client:
            if all_pages:
                return [item async for item in client.paginate(op.id, params, payload)]
            return await client.call(op.id, params, payload)

    result = asyncio.run(run())
    typer.echo(json.dumps(result, indent=None if as_json else 2, ensure_ascii=False))


@reports_errors
def export(
    op_name: Annotated[str, typer.Argument(metavar="OP", help="A list operation.")],
    out: Annotated[Path, typer.Option("--out", "-o", help="File to write.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv or jsonl.")] = "jsonl",
    param: ParamOpt = None,
    body: BodyOpt = None,
    page_size: Annotated[int | None, typer.Option(help="Items asked per page.")] = None,
    connection: ConnOpt = None,
) -> None:
    """Write every item of every page to CSV or JSONL, streaming (bounded memory)."""
    if fmt not in ("csv", "jsonl"):
        raise UsageError(f"--format {fmt!r}: expected csv or jsonl")
    op = resolve(op_name)
    if op.response.items is None:
        raise UsageError(f"{op.id}: not a list operation, nothing to export")
    params, payload = parse_params(param), parse_body(body)
    out = out.expanduser()
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist")

    async def run() -> int:
        async with open_client(connection) as client:
            return await _export(client, op.id, params, payload, page_size, out, fmt)

    count = asyncio.run(run())
    Console(stderr=True).print(f"wrote {count} items to {out}")


async def _export(
    client: GHLClient,
    op_id: str,
    params: dict[str, Any],
    body: Any,
    page_size: int | None,
    out: Path,
    fmt: str,
) -> int:
    """Stream to a temp file beside `out`, then rename: a failure leaves no half-written file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    tmp = Path(tmp_name)
    columns: dict[str, None] = {}
    count = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh, _progress() as progress:
            task = progress.add_task(op_id, total=None)
            pager = client.pager(op_id, params, body, page_size=page_size)
            async for page in pager.pages():
                for item in page:
                    fh.write(json.dumps(item, ensure_ascii=False) + "\n")
                    if fmt == "csv":
                        columns.update(dict.fromkeys(_flatten(item)))
                count += len(page)
                progress.update(
                    task, advance=len(page), description=f"{op_id} page {pager.pages_fetched}"
                )
        if fmt == "csv":
            _jsonl_to_csv(tmp, list(columns))
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return count


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed} items"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _flatten(item: Any, prefix: str = "") -> dict[str, Any]:
    """Nested objects become dotted columns; lists stay JSON in one cell."""
    if not isinstance(item, dict):
        return {prefix or "value": item}
    flat: dict[str, Any] = {}
    for key, value in item.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and value:
            flat.update(_flatten(value, name))
        else:
            flat[name] = value
    return flat


def _jsonl_to_csv(path: Path, columns: list[str]) -> None:
    """Second streaming pass: the header is the union of every item's columns."""
    csv_path = path.with_name(path.name + ".csv")
    try:
        with (
            path.open(encoding="utf-8") as src,
            csv_path.open("w", newline="", encoding="utf-8") as dst,
        ):
            writer = csv.DictWriter(dst, fieldnames=columns)
            writer.writeheader()
            for line in src:
                row = _flatten(json.loads(line))
                writer.writerow({k: _cell(v) for k, v in row.items()})
        os.replace(csv_path, path)
    finally:
        csv_path.unlink(missing_ok=True)


def _cell(value: Any) -> Any:
    if isinstance(value, list | dict):
        return json.dumps(value, ensure_ascii=False)
    return value
