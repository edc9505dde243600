"""Turns validated params and bodies into URL, query string and body bytes for one request."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ghlbridge.catalog.model import Operation


def build_url(base_url: str, op: Operation, params: Mapping[str, Any]) -> str:
    """Fill path params (percent-encoded) and append the query params in catalog order."""
    path = op.path
    query: list[tuple[str, str]] = []
    for p in op.params:
        if p.name not in params:
            continue
        value = params[p.name]
        if p.location == "path":
            path = path.replace("{" + p.name + "}", quote(_text(value), safe=""))
        elif p.location == "query":
            values = value if isinstance(value, list) else [value]
            query.extend((p.name, _text(v)) for v in values)
    url = base_url.rstrip("/") + path
    return f"{url}?{urlencode(query)}" if query else url


def header_params(op: Operation, params: Mapping[str, Any]) -> dict[str, str]:
    return {
        p.name: _text(params[p.name])
        for p in op.params
        if p.location == "header" and p.name in params
    }


def encode_body(op: Operation, body: Any) -> tuple[bytes | None, str | None]:
    """Body bytes and their content type, by the op's declared content type."""
    if body is None or op.body is None:
        return None, None
    ctype = op.body.content_type
    if ctype == "application/x-www-form-urlencoded":
        return urlencode({k: _text(v) for k, v in body.items() if v is not None}).encode(), ctype
    if ctype == "multipart/form-data":
        return _multipart(body)
    return json.dumps(body, separators=(",", ":"), default=str).encode(), "application/json"


def _multipart(fields: Mapping[str, Any]) -> tuple[bytes, str]:
    """Bytes values become file parts; everything else a text field."""
    boundary = uuid.uuid4().hex
    out = bytearray()
    for name, value in fields.items():
        out += f"--{boundary}\r\n".encode()
        if isinstance(value, bytes):
            out += (
                f'Content-Disposition: form-data; name="{name}"; filename="{name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            out += value
        else:
            out += f'Content-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            out += _text(value).encode()
        out += b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return bytes(out), f"multipart/form-data; boundary={boundary}"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def decode_body(body: bytes, content_type: str | None) -> Any:
    """JSON when it parses as JSON (GHL sometimes omits the content type), else text."""
    if not body:
        return None
    if content_type and "json" not in content_type and body[:1] not in (b"{", b"["):
        return body.decode("utf-8", "replace")
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
