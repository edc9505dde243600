"""Packaged flow templates: the seeds' connection setups as ready recipes with placeholders.

Each template is one YAML file in ``data/`` with two documents: the template's own
description (`TemplateInfo`: title, parameters, the connections it needs, the fields it
reads and sends) and the recipe, whose text holds ``${param}`` placeholders. A placeholder
only ever stands inside a double-quoted YAML string or a comment, and a value may not hold
quotes, backslashes, braces or ``%`` (`check_value`), so filling one in can neither break the
YAML nor inject a ``{{ }}`` template. Every template also has the parameter ``name`` (the flow's
name; default: the template's).

`render` fills the placeholders and validates the recipe like ``flows validate``;
`install` writes it into a flows folder; `required_scopes` lists the GHL scopes its
operations need, from the catalog.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ghlbridge.catalog import Catalog, load_catalog
from ghlbridge.catalog.curated import Curated, load_curated
from ghlbridge.flows.recipe import NAME_PATTERN, Recipe, RecipeError, parse_duration, parse_recipe
from ghlbridge.flows.triggers.polling import PollSpec
from ghlbridge.store.connections import NAME_PATTERN as CONNECTION_NAME

DATA_DIR = Path(__file__).parent / "data"
LOCATION_TOKEN_OP = "oauth.get_location_access_token"  # how an agency token reaches a location
_PLACEHOLDER = re.compile(r"\$\{([a-z_][a-z0-9_]*)\}")
_UNSAFE = re.compile(r"['\"\\{}%\x00-\x1f\x7f]")


class TemplateError(ValueError):
    """A template that does not exist, a bad parameter, or an install that would overwrite."""


class Param(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z_][a-z0-9_]*$")
    description: str
    kind: Literal["connection", "text", "id", "duration", "name"] = "text"
    default: str | None = None
    example: str | None = None

    @property
    def required(self) -> bool:
        return self.default is None


class NeededConnection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    param: str
    provider: Literal["ghl", "http", "clickbank"]
    setup: str


class TemplateInfo(BaseModel):
    """A template's first YAML document."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=NAME_PATTERN)
    title: str
    summary: str
    seeds: list[str]
    trigger: str
    ghl_token: Literal["location", "agency"]
    params: list[Param]
    connections: list[NeededConnection]
    trigger_fields: dict[str, str]
    fields: dict[str, str]
    partner_endpoints: list[str] = Field(default_factory=list)


@dataclass(frozen=True)
class Scopes:
    """The GHL scopes a recipe's operations need, and the operations the spec gives none."""

    scopes: tuple[str, ...]
    operations: dict[str, tuple[str, ...]]

    @property
    def unscoped(self) -> list[str]:
        return [op for op, scopes in self.operations.items() if not scopes]


@dataclass(frozen=True)
class Template:
    info: TemplateInfo
    recipe_text: str
    source: Path

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def params(self) -> list[Param]:
        builtin = Param(name="name", kind="name", default=self.name, description="The flow's name.")
        return [builtin, *self.info.params]

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def values(self, given: Mapping[str, str], *, examples: bool = False) -> dict[str, str]:
        """Every parameter's value: given, else its default (else its example, if asked);
        `TemplateError` names unknown, missing and unsafe ones."""
        known = {p.name for p in self.params}
        unknown = sorted(set(given) - known)
        if unknown:
            raise TemplateError(
                f"{self.name}: unknown parameter {', '.join(unknown)} "
                f"(known: {', '.join(sorted(known))})"
            )
        out: dict[str, str] = {}
        missing = []
        for p in self.params:
            value = given.get(p.name, p.default)
            if value is None and examples:
                value = p.example
            if value is None:
                missing.append(p.name)
                continue
            check_value(p, value, self.name)
            out[p.name] = value
        if missing:
            raise TemplateError(
                f"{self.name}: set {', '.join(f'{m}=...' for m in missing)} (--set NAME=VALUE)"
            )
        return out

    def render(self, given: Mapping[str, str], *, examples: bool = False) -> str:
        """The recipe text with every placeholder filled."""
        values = self.values(given, examples=examples)
        return _PLACEHOLDER.sub(lambda m: values[m.group(1)], self.recipe_text)

    def recipe(
        self, given: Mapping[str, str], *, examples: bool = False, source: str | None = None
    ) -> Recipe:
        """The filled recipe, validated (`RecipeError` lists every problem)."""
        return parse_recipe(self.render(given, examples=examples), source or str(self.source))

    def scopes(self, catalog: Catalog | None = None) -> Scopes:
        """The GHL scopes of its operations; an agency template also mints location tokens."""
        implicit = [LOCATION_TOKEN_OP] if self.info.ghl_token == "agency" else []
        return required_scopes(self.recipe({}, examples=True), catalog, also=implicit)


def check_value(param: Param, value: str, template: str = "") -> None:
    where = f"{template}: {param.name}" if template else param.name
    if not value or _UNSAFE.search(value):
        raise TemplateError(
            f"{where}: {value!r} must be non-empty, without quotes, backslashes, braces, "
            "'%' or control characters"
        )
    if param.kind == "connection" and not re.fullmatch(CONNECTION_NAME, value):
        raise TemplateError(f"{where}: {value!r} is not a connection name (a-z, 0-9, _ and -)")
    if param.kind == "name" and not re.fullmatch(NAME_PATTERN, value):
        raise TemplateError(f"{where}: {value!r} is not a flow name (a-z, 0-9, _ and -)")
    if param.kind == "duration":
        try:
            parse_duration(value)
        except ValueError:
            message = f"{where}: {value!r} is not a duration such as 30s, 5m, 1h"
            raise TemplateError(message) from None


def required_scopes(
    recipe: Recipe, catalog: Catalog | None = None, *, also: Iterable[str] = ()
) -> Scopes:
    """The union of the catalog scopes of every GHL operation `recipe` calls or polls (and
    of the operations `also` names, which it calls without naming them)."""
    from ghlbridge.flows.actions import resolve_action

    cat = catalog or load_catalog()
    curated = load_curated(cat)
    ops: list[str] = []
    trig = recipe.trigger
    for poll in (trig.poll, trig.webhook.catch_up if trig.webhook else None):
        if poll is not None:
            ops.append(_op_id(poll.op, cat, curated))
    for step in recipe.steps:
        spec = resolve_action(step.action, cat, curated)
        if spec.op is not None:
            ops.append(spec.op.id)
    ops += also
    operations = {op: tuple(cat.get(op).scopes) for op in dict.fromkeys(ops)}
    scopes = {s for found in operations.values() for s in found}
    if trig.webhook is not None:
        event = curated.webhook_event(trig.webhook.event)
        if event is not None and event.scope:
            scopes.add(event.scope)
    return Scopes(tuple(sorted(scopes)), operations)


def _op_id(name: str, catalog: Catalog, curated: Curated) -> str:
    return PollSpec.resolve(
        "-", name, {}, catalog=catalog, curated=curated, mode="new", id_field=None,
        updated_field=None, every=60.0,
    ).op_id  # fmt: skip


# ------------------------------------------------------------------------- loading


def _parse(path: Path) -> Template:
    text = path.read_text(encoding="utf-8")
    head, sep, recipe_text = text.partition("\n---\n")
    if not sep:
        raise TemplateError(f"{path}: expected the template, a line `---`, then the recipe")
    try:
        info = TemplateInfo.model_validate(yaml.safe_load(head))
    except (yaml.YAMLError, ValidationError) as exc:
        raise TemplateError(f"{path}: {exc}") from None
    if info.name != path.stem:
        raise TemplateError(f"{path}: name {info.name!r} differs from the file name")
    template = Template(info, recipe_text, path)
    declared = {p.name for p in template.params}
    used = set(_PLACEHOLDER.findall(recipe_text))
    if used - declared or declared - used - {"name"}:
        raise TemplateError(
            f"{path}: placeholders {sorted(used)} do not match the parameters {sorted(declared)}"
        )
    for p in info.params:
        if p.required and p.example is None:
            raise TemplateError(f"{path}: required parameter {p.name} needs an example")
    return template


@lru_cache(maxsize=1)
def _load_all() -> tuple[Template, ...]:
    return tuple(_parse(p) for p in sorted(DATA_DIR.glob("*.yaml")))


def load_templates() -> list[Template]:
    """Every packaged template, by name."""
    return list(_load_all())


def get_template(name: str) -> Template:
    for template in _load_all():
        if template.name == name:
            return template
    import difflib

    names = [t.name for t in _load_all()]
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.5)
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise TemplateError(f"no template named {name!r}{hint}; `ghlbridge templates list` shows them")


# ------------------------------------------------------------------------- installing


def install(
    name: str,
    values: Mapping[str, str],
    flows_dir: Path,
    *,
    force: bool = False,
) -> Path:
    """Write template `name`, filled with `values` and validated, to
    ``flows_dir/<flow name>.yaml``; an existing flow of that name is kept unless `force`.
    Nothing is written if anything is wrong."""
    template = get_template(name)
    text = template.render(values)
    flow_name = template.values(values)["name"]
    target = flows_dir / f"{flow_name}.yaml"
    try:
        parse_recipe(text, str(target))
    except RecipeError as exc:
        raise TemplateError(f"{name}: the filled recipe is not valid:\n{exc}") from None
    if not force:
        clash = _defined_in(flows_dir, flow_name)
        if clash is not None:
            raise TemplateError(
                f"flow {flow_name!r} already exists in {clash}; pass --force to replace it, "
                "or --set name=OTHER to install another copy"
            )
    flows_dir.mkdir(parents=True, exist_ok=True)
    _write_atomically(target, text)
    return target


def _defined_in(flows_dir: Path, flow_name: str) -> Path | None:
    """The file in `flows_dir` that defines flow `flow_name` (or is named after it)."""
    if not flows_dir.is_dir():
        return None
    for path in sorted([*flows_dir.glob("*.yaml"), *flows_dir.glob("*.yml")]):
        if path.stem == flow_name:
            return path
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue
        if isinstance(data, dict) and data.get("name") == flow_name:
            return path
    return None


def _write_atomically(target: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def describe(template: Template, catalog: Catalog | None = None) -> dict[str, Any]:
    """Everything `templates show` prints, as data."""
    info = template.info
    scopes = template.scopes(catalog)
    return {
        "name": info.name,
        "title": info.title,
        "summary": " ".join(info.summary.split()),
        "seeds": info.seeds,
        "trigger": info.trigger,
        "ghl_token": info.ghl_token,
        "params": [p.model_dump(exclude_none=True) for p in template.params],
        "connections": [c.model_dump() for c in info.connections],
        "trigger_fields": info.trigger_fields,
        "fields": info.fields,
        "partner_endpoints": info.partner_endpoints,
        "scopes": list(scopes.scopes),
        "operations": {op: list(s) for op, s in scopes.operations.items()},
        "recipe": template.recipe_text,
    }


def parse_sets(items: Iterable[str]) -> dict[str, str]:
    """``["key=value", ...]`` -> a dict; `TemplateError` for an item without ``=``."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise TemplateError(f"--set {item!r}: expected NAME=VALUE")
        out[key.strip()] = value.strip()
    return out


__all__ = [
    "DATA_DIR",
    "NeededConnection",
    "Param",
    "Scopes",
    "Template",
    "TemplateError",
    "TemplateInfo",
    "check_value",
    "describe",
    "get_template",
    "install",
    "load_templates",
    "parse_sets",
    "required_scopes",
]
