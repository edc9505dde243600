"""`{{ }}` mapping templates: Jinja2's sandboxed environment, strict about undefined names.

A string that is exactly one ``{{ expression }}`` keeps the expression's type (a list stays a
list, a number a number); any other string renders to text. Names a template can use:
``trigger``, ``event``, ``steps.<id>``, ``env``, ``connection``, ``item``/``index`` (inside
``for_each``), and the helpers below. A missing name or key is an error, never an empty
string, so a typo fails the step instead of sending a blank field.

Helpers: ``now()`` (aware UTC), ``today()``, ``timedelta(...)``, ``parse_date(text)``,
``lookup(data, key, value=None, default=None)``; filters ``date(fmt)``, ``iso``,
``epoch_ms``, ``parse_date``, ``tojson``, ``lookup``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

_WHOLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.DOTALL)
_STEP_REF = re.compile(r"\bsteps\s*(?:\.\s*([A-Za-z_]\w*)|\[\s*['\"]([^'\"]+)['\"]\s*\])")


class TemplateError(ValueError):
    """A template that does not parse or cannot be evaluated; `path` names the field."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}" if path else message)
        self.path = path
        self.message = message


def parse_date(value: Any) -> datetime:
    """An aware datetime from a datetime, a date, epoch seconds/ms, or ISO 8601 text."""
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return parse_date(int(text))
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    raise ValueError(f"cannot read a date from {type(value).__name__}")


def _date(value: Any, fmt: str = "%Y-%m-%d") -> str:
    return parse_date(value).strftime(fmt)


def _iso(value: Any) -> str:
    return parse_date(value).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _epoch_ms(value: Any) -> int:
    return int(parse_date(value).timestamp() * 1000)


def lookup(data: Any, key: Any, value: Any = None, default: Any = None) -> Any:
    """``lookup(mapping, key)`` -> mapping[key] (or default); ``lookup(list, key, value)`` ->
    the first item whose ``key`` equals ``value`` (or default)."""
    if isinstance(data, Mapping):
        return data.get(key, default)
    if isinstance(data, list | tuple):
        for entry in data:
            if isinstance(entry, Mapping) and entry.get(key) == value:
                return entry
    return default


def _now() -> datetime:
    return datetime.now(UTC)


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


class _MappingFirstEnvironment(SandboxedEnvironment):
    """``trigger.items`` is the key ``items`` of a mapping, not the ``dict.items`` method."""

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping) and attribute in obj:
            return obj[attribute]
        return super().getattr(obj, attribute)


def _environment() -> SandboxedEnvironment:
    env = _MappingFirstEnvironment(
        undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    env.globals.update(
        now=_now, today=_today, timedelta=timedelta, parse_date=parse_date, lookup=lookup
    )
    env.filters.update(
        date=_date, iso=_iso, epoch_ms=_epoch_ms, parse_date=parse_date, lookup=lookup
    )
    env.policies["json.dumps_kwargs"] = {"sort_keys": True, "ensure_ascii": False}
    return env


ENV = _environment()


def _whole_expression(text: str) -> str | None:
    match = _WHOLE.match(text)
    if match is None:
        return None
    inner = match.group(1)
    return None if "{{" in inner or "}}" in inner else inner.strip()


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str) -> Any:
    return ENV.compile_expression(expr, undefined_to_none=False)


@lru_cache(maxsize=4096)
def _compiled_template(text: str) -> Any:
    return ENV.from_string(text)


def has_template(value: Any) -> bool:
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def _plain(value: Any) -> Any:
    """Template results made JSON-ready: dates as ISO text, tuples as lists."""
    if isinstance(value, datetime):
        return _iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def render(value: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """Render every template inside `value` (dicts and lists recursively) with `context`."""
    if isinstance(value, Mapping):
        return {k: render(v, context, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [render(v, context, f"{path}[{i}]") for i, v in enumerate(value)]
    if not has_template(value):
        return value
    text = str(value)
    try:
        expr = _whole_expression(text)
        if expr is not None:
            result = _compiled_expression(expr)(**context)
            if isinstance(result, Undefined):
                str(result)  # raises UndefinedError naming what is missing
            return _plain(result)
        return _compiled_template(text).render(**context)
    except (UndefinedError, SecurityError) as exc:
        raise TemplateError(path, f"{exc.message or exc}") from None
    except TemplateSyntaxError as exc:
        raise TemplateError(path, f"template syntax: {exc.message}") from None
    except Exception as exc:  # a helper's error (a bad date, a type mismatch)
        raise TemplateError(path, f"{type(exc).__name__}: {exc}") from None


def evaluate(expression: Any, context: Mapping[str, Any], path: str = "") -> Any:
    """The value of a condition or `for_each` expression, with or without ``{{ }}``."""
    if not isinstance(expression, str):
        return expression
    text = expression.strip()
    if _whole_expression(text) is None and not has_template(text):
        text = "{{ " + text + " }}"
    return render(text, context, path)


def check(value: Any, path: str = "", *, expression: bool = False) -> list[TemplateError]:
    """Syntax problems of every template inside `value` (nothing is evaluated)."""
    problems: list[TemplateError] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            problems += check(v, f"{path}.{k}" if path else str(k))
        return problems
    if isinstance(value, list):
        for i, v in enumerate(value):
            problems += check(v, f"{path}[{i}]")
        return problems
    if not isinstance(value, str) or not (expression or has_template(value)):
        return problems
    text = value.strip()
    if expression and _whole_expression(text) is None and not has_template(text):
        text = "{{ " + text + " }}"
    try:
        ENV.parse(text)
    except TemplateSyntaxError as exc:
        problems.append(TemplateError(path, f"template syntax: {exc.message}"))
    return problems


def referenced_steps(value: Any) -> set[str]:
    """Step ids that templates inside `value` read through ``steps.<id>``."""
    if isinstance(value, Mapping):
        return set().union(*(referenced_steps(v) for v in value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*(referenced_steps(v) for v in value)) if value else set()
    if not isinstance(value, str):
        return set()
    return {a or b for a, b in _STEP_REF.findall(value)}


def to_json(value: Any) -> str:
    return json.dumps(_plain(value), sort_keys=True, ensure_ascii=False)


__all__ = [
    "ENV",
    "TemplateError",
    "check",
    "evaluate",
    "has_template",
    "lookup",
    "parse_date",
    "referenced_steps",
    "render",
]
