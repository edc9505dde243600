"""Parses a request's query and body and checks them against the catalog, as GHL's
NestJS pipes do: every problem is collected and answered at once as a 422 whose `message`
is a list of class-validator-style sentences ("limit must not be greater than 100").

Checked: required params and fields, types (query and form values are strings and are
coerced first), enums, numeric minimum/maximum, and unknown query params (GHL whitelists
query DTOs). Unknown body fields pass: the specs under-declare bodies.
"""

from __future__ import annotations

import copy
import email.parser
import email.policy
import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from ghlbridge.catalog import Operation
from ghlbridge.catalog.model import Schema
from ghlbridge.sandbox.errors import bad_request, unprocessable

_MAX_DEPTH = 12
_TYPE_MESSAGE = {
    "string": "{} must be a string",
    "number": "{} must be a number conforming to the specified constraints",
    "integer": "{} must be an integer number",
    "boolean": "{} must be a boolean value",
    "array": "{} must be an array",
    "object": "{} must be an object",
}


def parse_query(query_string: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in parse_qsl(query_string, keep_blank_values=True):
        out.setdefault(key, []).append(value)
    return out


def parse_body(content_type: str | None, raw: bytes) -> tuple[Any, bool]:
    """The decoded body and whether its values are strings to coerce (forms)."""
    if not raw:
        return None, False
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype == "application/x-www-form-urlencoded":
        pairs = parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
        grouped: dict[str, list[str]] = {}
        for key, value in pairs:
            grouped.setdefault(key, []).append(value)
        return {k: v[0] if len(v) == 1 else v for k, v in grouped.items()}, True
    if ctype == "multipart/form-data":
        return _parse_multipart(content_type or "", raw), True
    if ctype == "application/json" or ctype.endswith("+json") or not ctype:
        try:
            return json.loads(raw), False
        except ValueError as exc:
            raise bad_request(f"Invalid JSON body: {exc}") from None
    return None, False


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    head = f"Content-Type: {content_type}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + raw)
    out: dict[str, Any] = {}
    if not message.is_multipart():
        boundary = message.get_boundary()
        if boundary and raw.strip() == f"--{boundary}--".encode():
            return {}  # a form with no fields
        raise bad_request("Malformed multipart body")
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        out[name] = data if part.get_filename() else data.decode("utf-8", "replace")
    return out


def validate_request(
    op: Operation,
    path_params: Mapping[str, str],
    query: Mapping[str, list[str]],
    body: Any,
    *,
    form_body: bool = False,
) -> tuple[dict[str, Any], Any]:
    """Coerced query values and the checked body; raises a 422 listing every problem."""
    errors: list[str] = []
    for p in op.params:
        if p.location == "path" and p.name in path_params:
            _check(p.schema, path_params[p.name], p.name, errors, True, 0)
    declared = {p.name: p for p in op.params if p.location == "query"}
    errors.extend(f"property {name} should not exist" for name in query if name not in declared)
    values: dict[str, Any] = {}
    for p in declared.values():
        raw = query.get(p.name)
        if raw is not None and raw[-1] == "" and p.type != "string":
            raw = None
        if raw is None:
            if p.required:
                errors.append(f"{p.name} should not be empty")
            continue
        value: Any = raw[-1]
        if p.type == "array":
            value = raw if len(raw) > 1 else [v for v in raw[0].split(",") if v != ""]
        values[p.name] = _check(p.schema, value, p.name, errors, True, 0)
    if op.body is not None:
        schema = op.body.schema
        if body is None and (op.body.required or schema.get("required")):
            body = {} if schema.get("type", "object") == "object" else None
        if body is not None:
            body = _check(schema, body, "", errors, form_body, 0)
    _check_page_size(op, body if op.paging and op.paging.in_body else values, errors)
    if errors:
        raise unprocessable(errors)
    return values, body


def _check_page_size(op: Operation, values: Any, errors: list[str]) -> None:
    """The catalog's page-size cap holds even where the param's schema has no maximum."""
    paging = op.paging
    name = paging.params.get("limit") if paging else None
    if paging is None or name is None or not paging.max_limit or not isinstance(values, dict):
        return
    size = values.get(name)
    if isinstance(size, int | float) and not isinstance(size, bool) and size > paging.max_limit:
        message = f"{name} must not be greater than {paging.max_limit}"
        if message not in errors:
            errors.append(message)


def schema_problems(schema: Schema, value: Any) -> list[str]:
    """What is wrong with a JSON value for `schema` (tests check the sandbox's answers)."""
    errors: list[str] = []
    _check(schema, copy.deepcopy(value), "", errors, False, 0)
    return errors


def _label(path: str) -> str:
    return path or "body"


def _check(
    schema: Schema, value: Any, path: str, errors: list[str], coerce: bool, depth: int
) -> Any:
    """Append what is wrong with `value`; return it (coerced from text where `coerce`)."""
    if depth > _MAX_DEPTH or not isinstance(schema, dict) or not schema:
        return value
    for key in ("oneOf", "anyOf"):
        options = schema.get(key)
        if options:
            for option in options:
                trial: list[str] = []
                coerced = _check(option, value, path, trial, coerce, depth + 1)
                if not trial:
                    return coerced
            errors.append(f"{_label(path)} does not match any allowed shape")
            return value
    typ = schema.get("type")
    if typ is None:
        typ = "object" if "properties" in schema else "array" if "items" in schema else None
    if coerce and isinstance(value, str) and typ not in (None, "string"):
        value = _coerce(typ, value)
    if typ is not None and not _is_type(typ, value, schema):
        errors.append(_TYPE_MESSAGE.get(typ, "{} has the wrong type").format(_label(path)))
        return value
    enum = schema.get("enum")
    if enum is not None and value not in enum and not (coerce and str(value) in map(str, enum)):
        choices = ", ".join(str(v) for v in enum)
        errors.append(f"{_label(path)} must be one of the following values: {choices}")
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            errors.append(f"{_label(path)} must not be less than {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            errors.append(f"{_label(path)} must not be greater than {schema['maximum']}")
    if isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties") or {}
        for name in schema.get("required") or []:
            nullable = bool(props.get(name, {}).get("nullable"))
            if name not in value or (value[name] is None and not nullable) or value[name] == "":
                errors.append(f"{_join(path, name)} should not be empty")
        for name, sub in list(value.items()):
            if name in props and sub is not None:
                value[name] = _check(props[name], sub, _join(path, name), errors, coerce, depth + 1)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [
            _check(schema["items"], sub, _join(path, str(i)), errors, coerce, depth + 1)
            for i, sub in enumerate(value)
        ]
    return value


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _coerce(typ: str, text: str) -> Any:
    """Text from a query string or form to the declared type; unchanged when it does not parse."""
    try:
        if typ == "integer":
            return int(text)
        if typ == "number":
            number = float(text)
            return int(number) if number.is_integer() and "." not in text else number
    except ValueError:
        return text
    if typ == "boolean" and text in ("true", "false"):
        return text == "true"
    if typ == "array":
        return [v for v in text.split(",") if v != ""]
    if typ == "object":
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        return parsed if isinstance(parsed, dict) else text
    return text


def _is_type(typ: str, value: Any, schema: Schema) -> bool:
    if typ == "string":
        binary = isinstance(value, bytes) and schema.get("format") == "binary"
        return isinstance(value, str) or binary
    if typ == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if typ == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
    if typ == "boolean":
        return isinstance(value, bool)
    if typ == "array":
        return isinstance(value, list)
    if typ == "object":
        return isinstance(value, dict)
    return True
