"""Parses `-p name=value` and `--body JSON|@file` into call arguments, with precise errors."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from ghlbridge.cli.errors import UsageError


def parse_params(pairs: list[str] | None) -> dict[str, Any]:
    """`name=value` pairs; a name given twice becomes a list (for array params)."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise UsageError(f"-p {pair!r}: expected name=value")
        if name in out:
            prev = out[name]
            out[name] = [*prev, value] if isinstance(prev, list) else [prev, value]
        else:
            out[name] = value
    return out


def parse_body(text: str | None) -> Any:
    """Inline JSON, `@file` or `@-` (stdin); a JSON error names the file, line and column."""
    if text is None:
        return None
    source = "--body"
    if text.startswith("@"):
        name = text[1:]
        if name == "-":
            source, text = "stdin", sys.stdin.read()
        else:
            path = Path(name)
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise UsageError(f"--body: cannot read {name}: {exc.strerror}") from None
            source = name
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{source}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
