"""Checks a call's params and body against the catalog before anything is sent.

Values from the CLI arrive as strings, so scalar params are coerced to the declared type here
(``"10"`` -> 10 for an integer); a value that cannot be coerced is an error naming the field.
Bodies are checked for required fields, types and enums; unknown body fields pass, because the
specs under-declare bodies, while unknown params fail, since they are almost always typos.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Mapping
from typing import Any

from ghlbridge.catalog.model import Operation, Param, Schema
from ghlbridge.client.errors import ValidationError

_MAX_DEPTH = 12


def validate_params(op: Operation, params: Mapping[str, Any]) -> dict[str, Any]:
    """Return the params coerced to their declared types; raise on the first problem."""
    rules = _ParamRules.of(op)
    known = rules.known
    for name in params:
        if name not in known:
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            allowed = ", ".join(sorted(known)) or "none"
            raise ValidationError(op.id, name, f"unknown parameter{hint}; allowed: {allowed}")
    out: dict[str, Any] = {}
    for name, required, default, location, coerce in rules.rules:
        if name in params and params[name] is not None:
            out[name] = coerce(params[name])
        elif required:
            if default is not None:
                out[name] = default
            else:
                where = f"{location} " if location != "query" else ""
                raise ValidationError(op.id, name, f"missing required {where}parameter")
    return out


Coercer = Callable[[Any], Any]


class _ParamRules:
    """One operation's params as `validate_params` checks them, worked out once per op."""

    __slots__ = ("known", "op", "rules")

    def __init__(self, op: Operation) -> None:
        self.op = op
        self.known = frozenset(p.name for p in op.params)
        self.rules = tuple(
            (p.name, p.required, p.default, p.location, _param_coercer(op.id, p)) for p in op.params
        )

    @classmethod
    def of(cls, op: Operation) -> _ParamRules:
        rules = _RULES.get(id(op))
        if rules is None or rules.op is not op:
            if len(_RULES) >= 4096:  # catalogs built over and over (tests): keep few
                _RULES.clear()
            rules = _RULES[id(op)] = cls(op)
        return rules


_RULES: dict[int, _ParamRules] = {}


def _param_coercer(op_id: str, p: Param) -> Coercer:
    if p.type == "array":
        item = _scalar_coercer(op_id, p.name, p.schema.get("items") or {"type": "string"})

        def coerce_items(value: Any) -> list[Any]:
            items = value if isinstance(value, list | tuple) else _split_list(value)
            return [item(v) for v in items]

        return coerce_items
    return _scalar_coercer(op_id, p.name, p.schema)


def _scalar_coercer(op_id: str, field: str, schema: Schema) -> Coercer:
    typ = str(schema.get("type", "string"))
    coerce: Coercer = _COERCE.get(typ, _to_string)
    has_enum = bool(schema.get("enum"))

    def coerce_scalar(value: Any) -> Any:
        try:
            coerced = coerce(value)
        except (TypeError, ValueError):
            raise ValidationError(op_id, field, f"expected {typ}, got {value!r}") from None
        if has_enum:
            _check_enum(op_id, field, schema, coerced)
        return coerced

    return coerce_scalar


def _split_list(value: Any) -> list[Any]:
    if isinstance(value, str):
        return [v for v in value.split(",") if v != ""]
    return [value]


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError(value)
    return int(value)


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return value
    text = str(value)
    try:
        return int(text)
    except ValueError:
        return float(text)


def _to_string(value: Any) -> str:
    if isinstance(value, dict | list):
        raise ValueError(value)
    return value if isinstance(value, str) else _stringify(value)


def _stringify(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(value)


def _check_enum(op_id: str, field: str, schema: Schema, value: Any) -> None:
    enum = schema.get("enum")
    if enum and value not in enum and str(value) not in {str(e) for e in enum}:
        choices = ", ".join(str(e) for e in enum)
        raise ValidationError(op_id, field, f"{value!r} is not one of: {choices}")


def validate_body(op: Operation, body: Any) -> None:
    """Check the body against the op's schema; a missing required body is an error too."""
    if op.body is None:
        if body not in (None, {}):
            raise ValidationError(op.id, "body", "this operation takes no request body")
        return
    if body is None:
        if op.body.required and op.body.schema.get("required"):
            raise ValidationError(op.id, "body", "missing required request body")
        return
    _check_value(op.id, "body", op.body.schema, body, 0)


_COERCE: dict[str, Callable[[Any], Any]] = {
    "integer": _to_int,
    "number": _to_number,
    "boolean": _to_bool,
    "string": _to_string,
}

_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list, tuple),
    "object": (dict,),
}


def _check_value(op_id: str, where: str, schema: Schema, value: Any, depth: int) -> None:
    if depth > _MAX_DEPTH or not schema:
        return
    if value is None:
        if schema.get("nullable") or "type" not in schema:
            return
        raise ValidationError(op_id, where, "must not be null")
    for key in ("oneOf", "anyOf"):
        if key in schema:
            if not any(_matches(op_id, where, s, value, depth) for s in schema[key]):
                raise ValidationError(op_id, where, f"matches none of the allowed shapes ({key})")
            return
    typ = schema.get("type")
    if typ in _JSON_TYPES:
        ok = isinstance(value, _JSON_TYPES[typ]) and not (
            typ in ("integer", "number") and isinstance(value, bool)
        )
        if typ == "integer" and isinstance(value, float) and value.is_integer():
            ok = True
        if not ok:
            raise ValidationError(op_id, where, f"expected {typ}, got {_describe(value)}")
    _check_enum(op_id, where, schema, value)
    if isinstance(value, dict):
        props: dict[str, Schema] = schema.get("properties") or {}
        for name in schema.get("required") or []:
            if name not in value:
                raise ValidationError(op_id, f"{where}.{name}", "missing required field")
        for name, sub in value.items():
            if name in props:
                _check_value(op_id, f"{where}.{name}", props[name], sub, depth + 1)
    elif isinstance(value, list | tuple) and isinstance(schema.get("items"), dict):
        for i, sub in enumerate(value):
            _check_value(op_id, f"{where}[{i}]", schema["items"], sub, depth + 1)


def _matches(op_id: str, where: str, schema: Schema, value: Any, depth: int) -> bool:
    try:
        _check_value(op_id, where, schema, value, depth + 1)
    except ValidationError:
        return False
    return True


def _describe(value: Any) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= 40 else text[:37] + "..."
