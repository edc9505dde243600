"""Turns validated params and bodies into URL, query string and body bytes for one request."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlencode

from ghlbridge.catalog.model import Operation

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


def build_url(base_url: str, op: Operation, params: Mapping[str, Any]) -> str:
    """Fill path params (percent-encoded) and append the query params in catalog order."""
    return OperationEncoding(op).url(base_url.rstrip("/"), params)


def header_params(op: Operation, params: Mapping[str, Any]) -> dict[str, str]:
    return OperationEncoding(op).headers(params)


class OperationEncoding:
    """One operation's path template split once into literal text and the path params between,
    and its query and header param names in catalog order, for its every request."""

    __slots__ = ("_head", "_query", "_tail", "header_names")

    def __init__(self, op: Operation) -> None:
        path_params = {p.name for p in op.params if p.location == "path"}
        # "/a/{x}/b/{y}" -> head "/a/", tail (("x", "/b/"), ("y", "")); a placeholder that
        # names no path param stays as text, as str.replace would leave it.
        literals: list[str] = []
        slots: list[str] = []
        text, at = "", 0
        for match in _PLACEHOLDER.finditer(op.path):
            text += op.path[at : match.start()]
            if match.group(1) in path_params:
                literals.append(text)
                slots.append(match.group(1))
                text = ""
            else:
                text += match.group(0)
            at = match.end()
        literals.append(text + op.path[at:])
        self._head = literals[0]
        self._tail = tuple(zip(slots, literals[1:], strict=True))  # (param, text after it)
        self._query = tuple(p.name for p in op.params if p.location == "query")
        self.header_names = tuple(p.name for p in op.params if p.location == "header")

    def url(self, base_url: str, params: Mapping[str, Any]) -> str:
        """`base_url` (no trailing slash) + the filled path + the query string."""
        url = base_url + self._head
        for name, literal in self._tail:
            if name not in params:
                url += "{" + name + "}" + literal
                continue
            value = params[name]
            if not (type(value) is str and value.isascii() and value.isalnum()):
                value = quote(_text(value), safe="")  # ids are letters and digits: left as is
            url += value + literal
        query: list[tuple[str, str]] = []
        for name in self._query:
            if name in params:
                value = params[name]
                if isinstance(value, list):
                    query.extend((name, _text(v)) for v in value)
                else:
                    query.append((name, _text(value)))
        return f"{url}?{urlencode(query)}" if query else url

    def headers(self, params: Mapping[str, Any]) -> dict[str, str]:
        return {name: _text(params[name]) for name in self.header_names if name in params}


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
