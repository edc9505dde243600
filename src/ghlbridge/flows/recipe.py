"""Flow recipes: the model, YAML loading with line numbers, and every validation rule.

A recipe is a YAML file: a name, one trigger, then steps. The pydantic model below is the
single source of the recipe's shape (`flows schema` prints its JSON Schema); `load_recipe`
adds the checks a schema cannot express (actions exist, templates parse, steps only read
earlier steps, intervals in range, cron valid). Every problem is reported, each as
``file:line: field.path: problem``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from croniter import croniter
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    WithJsonSchema,
    model_validator,
)

from ghlbridge.catalog import Catalog, load_catalog
from ghlbridge.catalog.curated import Curated, load_curated
from ghlbridge.flows import templates
from ghlbridge.flows.actions import UnknownActionError, input_problems, resolve_action

MIN_INTERVAL = 10.0
MAX_INTERVAL = 86_400.0
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, None: 1.0}
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
STEP_ID_PATTERN = r"^[a-z_][a-z0-9_]{0,63}$"


def parse_duration(value: Any) -> Any:
    """``30`` (seconds), ``"500ms"``, ``"30s"``, ``"5m"``, ``"1h"``, ``"1d"`` -> seconds."""
    if isinstance(value, bool):
        raise ValueError("expected a duration such as 30s, 5m or 1h")
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        match = _DURATION.match(value)
        if match:
            return float(match.group(1)) * _UNITS[match.group(2)]
    raise ValueError("expected a duration such as 30s, 5m or 1h")


_DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\s*\d+(\.\d+)?\s*(ms|s|m|h|d)?\s*$"},
    ]
}
Duration = Annotated[float, BeforeValidator(parse_duration), WithJsonSchema(_DURATION_SCHEMA)]
Interval = Annotated[
    float,
    BeforeValidator(parse_duration),
    Field(ge=MIN_INTERVAL, le=MAX_INTERVAL),
    WithJsonSchema({**_DURATION_SCHEMA, "description": "10s to 24h"}),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)


class PollTrigger(_Model):
    """New or updated items of any list/search operation, checked every `every`."""

    op: str = Field(description="A list/search catalog operation or curated trigger name.")
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    mode: Literal["new", "updated"] = "new"
    id_field: str | None = None
    updated_field: str | None = Field(
        default=None, description="Changes by this field; else by a fingerprint of the item."
    )
    every: Interval = 300.0
    replay_history: bool = Field(
        default=False, description="On the first poll, run for items that already exist."
    )
    max_items: int = Field(default=10_000, ge=1)
    page_size: int | None = Field(default=None, ge=1)


class CatchUp(_Model):
    """The periodic poll of the webhook's resource that finds changes whose webhook was lost."""

    op: str
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    every: Interval = 900.0
    id_field: str | None = None
    updated_field: str | None = None
    max_items: int = Field(default=10_000, ge=1)


class WebhookTrigger(_Model):
    event: str = Field(description="A GHL webhook event type, e.g. ContactCreate.")
    catch_up: CatchUp | None = None


class ScheduleTrigger(_Model):
    cron: str | None = Field(default=None, description="Five-field cron, in UTC.")
    every: Interval | None = None

    @model_validator(mode="after")
    def _one_of(self) -> ScheduleTrigger:
        if (self.cron is None) == (self.every is None):
            raise ValueError("give exactly one of cron or every")
        return self


class ManualTrigger(_Model):
    description: str | None = None


class ClickBankTrigger(_Model):
    """ClickBank INS notifications received by the server for a ClickBank connection."""

    connection: str | None = Field(
        default=None,
        description="The ClickBank connection whose notifications start the flow (any if omitted).",
    )
    types: list[str] = Field(
        default_factory=list,
        description="transactionType values to run for (SALE, BILL, RFND, CGBK, INSF, "
        "CANCEL-REBILL, ...); empty: every type.",
    )


TriggerKind = Literal["poll", "webhook", "schedule", "manual", "clickbank"]
TRIGGER_KINDS: tuple[TriggerKind, ...] = ("poll", "webhook", "schedule", "manual", "clickbank")


class Trigger(_Model):
    poll: PollTrigger | None = None
    webhook: WebhookTrigger | None = None
    schedule: ScheduleTrigger | None = None
    manual: ManualTrigger | None = None
    clickbank: ClickBankTrigger | None = None

    @model_validator(mode="before")
    @classmethod
    def _empty_manual(cls, data: Any) -> Any:
        if isinstance(data, dict) and "manual" in data and data["manual"] is None:
            return {**data, "manual": {}}
        return data

    @model_validator(mode="after")
    def _exactly_one(self) -> Trigger:
        given = [k for k in TRIGGER_KINDS if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of poll, webhook, schedule, manual or clickbank"
                + (f" (got {', '.join(given)})" if given else "")
            )
        return self

    @property
    def kind(self) -> TriggerKind:
        return next((k for k in TRIGGER_KINDS if getattr(self, k) is not None), "manual")


class StepRetry(_Model):
    max_attempts: int = Field(default=3, ge=1, le=20)
    backoff: Duration = 2.0


class Step(_Model):
    id: str = Field(pattern=STEP_ID_PATTERN)
    action: str = Field(
        description="A catalog operation id, a curated action name, http.request, "
        "webhook.send or clickbank.<action>."
    )
    connection: str | None = Field(
        default=None,
        description="GHL actions: the GHL connection (default: the flow's); http.request and "
        "webhook.send: an http connection; clickbank.<action>: a ClickBank connection.",
    )
    with_: dict[str, Any] = Field(default_factory=dict, alias="with")
    if_: str | bool | None = Field(default=None, alias="if")
    for_each: str | list[Any] | None = None
    on_error: Literal["stop", "continue", "retry"] = "stop"
    retry: StepRetry = Field(default_factory=StepRetry)


class Recipe(_Model):
    """One flow: a trigger, then steps."""

    name: str = Field(pattern=NAME_PATTERN)
    description: str | None = None
    enabled: bool = True
    connection: str | None = Field(
        default=None, description="The GHL connection steps and triggers use by default."
    )
    locations: list[str] | Literal["all"] | None = Field(
        default=None,
        description="Agency fan-out: run for these locations, or all installed ones.",
    )
    dedupe_window: Duration = 86_400.0
    trigger: Trigger
    steps: list[Step] = Field(min_length=1)

    def step(self, step_id: str) -> Step:
        return next(s for s in self.steps if s.id == step_id)


# ------------------------------------------------------------------------- problems


@dataclass(frozen=True)
class Problem:
    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class RecipeError(ValueError):
    """A recipe with problems; `problems` lists every one."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("\n".join(str(p) for p in problems))
        self.problems = problems


def _path(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Lines:
    """Line numbers of every key and item of a composed YAML document."""

    def __init__(self, root: yaml.Node | None) -> None:
        self.lines: dict[tuple[Any, ...], int] = {}
        self.duplicates: list[tuple[tuple[Any, ...], int]] = []
        if root is not None:
            self._walk(root, ())

    def _walk(self, node: yaml.Node, path: tuple[Any, ...]) -> None:
        self.lines.setdefault(path, node.start_mark.line + 1)
        if isinstance(node, yaml.MappingNode):
            seen: set[str] = set()
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    self.duplicates.append(((*path, name), key.start_mark.line + 1))
                seen.add(name)
                self.lines[(*path, name)] = key.start_mark.line + 1
                self._walk(value, (*path, name))
                self.lines[(*path, name)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                self._walk(item, (*path, i))

    def line(self, loc: tuple[Any, ...]) -> int | None:
        for end in range(len(loc), -1, -1):
            if loc[:end] in self.lines:
                return self.lines[loc[:end]]
        return None


def _pydantic_problems(exc: ValidationError, source: str, lines: _Lines) -> list[Problem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        # Unions report one error per member; keep the path the data actually has.
        loc = tuple(
            p
            for p in loc
            if p not in ("list[str]", "literal['all']", "str", "bool", "list[any]", "float", "int")
        )
        message = str(err["msg"])
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "required field is missing"
        problems.append(
            Problem(source, lines.line(loc), _path(loc), message[:1].lower() + message[1:])
        )
    unique: dict[tuple[int | None, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.line, p.path), p)
    return list(unique.values())


# ------------------------------------------------------------------------- loading


def load_recipe(path: Path, *, catalog: Catalog | None = None) -> Recipe:
    """Read and validate one recipe file; `RecipeError` lists every problem."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError([Problem(str(path), None, "", f"cannot read: {exc.strerror}")]) from None
    return parse_recipe(text, str(path), catalog=catalog)


def parse_recipe(text: str, source: str = "<recipe>", *, catalog: Catalog | None = None) -> Recipe:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise RecipeError([Problem(source, line, "", f"invalid YAML: {exc.problem}")]) from None
    except yaml.YAMLError as exc:
        raise RecipeError([Problem(source, None, "", f"invalid YAML: {exc}")]) from None
    lines = _Lines(root)
    problems = [
        Problem(source, line, _path(path), "duplicate key") for path, line in lines.duplicates
    ]
    if not isinstance(data, dict):
        raise RecipeError([*problems, Problem(source, 1, "", "a recipe must be a mapping")])
    try:
        recipe = Recipe.model_validate(data)
    except ValidationError as exc:
        raise RecipeError(problems + _pydantic_problems(exc, source, lines)) from None
    cat = catalog or load_catalog()
    problems += [
        Problem(source, lines.line(loc), _path(loc), msg)
        for loc, msg in _semantic_problems(recipe, cat, load_curated(cat))
    ]
    if problems:
        raise RecipeError(sorted(problems, key=lambda p: (p.line or 0, p.path)))
    return recipe


def _semantic_problems(
    recipe: Recipe, catalog: Catalog, curated: Curated
) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    trig = recipe.trigger
    if trig.poll is not None:
        out += _list_op_problems(trig.poll.op, ("trigger", "poll", "op"), catalog, curated)
        out += _template_problems(trig.poll.with_, ("trigger", "poll", "with"), set(), trig=True)
    if trig.webhook is not None:
        event = trig.webhook.event
        if curated.webhook_event(event) is None:
            known = [e.type for e in curated.webhook_events()]
            import difflib

            close = difflib.get_close_matches(event, known, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            out.append(
                (("trigger", "webhook", "event"), f"unknown GHL webhook event {event!r}{hint}")
            )
        if trig.webhook.catch_up is not None:
            loc = ("trigger", "webhook", "catch_up", "op")
            out += _list_op_problems(trig.webhook.catch_up.op, loc, catalog, curated)
    cron = trig.schedule.cron if trig.schedule is not None else None
    if cron is not None and not croniter.is_valid(cron):
        out.append((("trigger", "schedule", "cron"), f"invalid cron {cron!r}"))
    if trig.clickbank is not None:
        out += _clickbank_problems(trig.clickbank)
    seen: dict[str, int] = {}
    for i, step in enumerate(recipe.steps):
        base: tuple[Any, ...] = ("steps", i)
        if step.id in seen:
            out.append(
                ((*base, "id"), f"duplicate step id {step.id!r} (first at steps[{seen[step.id]}])")
            )
        try:
            spec = resolve_action(step.action, catalog, curated)
        except UnknownActionError as exc:
            out.append(((*base, "action"), str(exc)))
        else:
            found = input_problems(spec, step.with_, step.connection)
            out += [((*base, *loc), msg) for loc, msg in found]
        earlier = set(seen)
        out += _template_problems(step.with_, (*base, "with"), earlier)
        if step.if_ is not None and not isinstance(step.if_, bool):
            out += _template_problems(step.if_, (*base, "if"), earlier, expression=True)
        if step.for_each is not None:
            out += _template_problems(
                step.for_each,
                (*base, "for_each"),
                earlier,
                expression=isinstance(step.for_each, str),
            )
        seen.setdefault(step.id, i)
    return out


def _clickbank_problems(trig: ClickBankTrigger) -> list[tuple[tuple[Any, ...], str]]:
    import difflib

    from ghlbridge.connectors.clickbank.notification import TRANSACTION_TYPES

    out: list[tuple[tuple[Any, ...], str]] = []
    for i, kind in enumerate(trig.types):
        if kind not in TRANSACTION_TYPES:
            close = difflib.get_close_matches(kind.upper(), sorted(TRANSACTION_TYPES), n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            out.append(
                (("trigger", "clickbank", "types", i), f"unknown transactionType {kind!r}{hint}")
            )
    return out


def _list_op_problems(
    name: str, loc: tuple[Any, ...], catalog: Catalog, curated: Curated
) -> list[tuple[tuple[Any, ...], str]]:
    op_id = name
    if name not in catalog and name in curated:
        op_id = curated.get(name).op_id
    if op_id not in catalog:
        try:
            catalog.get(op_id)
        except LookupError as exc:
            return [(loc, str(exc))]
    op = catalog.get(op_id)
    if not op.is_list:
        return [(loc, f"{op.id} is not a list/search operation, so it cannot be polled")]
    return []


def _template_problems(
    value: Any,
    loc: tuple[Any, ...],
    earlier: set[str],
    *,
    expression: bool = False,
    trig: bool = False,
) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    for err in templates.check(value, expression=expression):
        out.append(((*loc, *_split(err.path)), err.message))
    for sub, text in _strings(value, ()):
        for ref in sorted(templates.referenced_steps(text)):
            if trig:
                out.append(((*loc, *sub), f"a trigger cannot read steps.{ref}"))
            elif ref not in earlier:
                out.append(((*loc, *sub), f"steps.{ref} is not an earlier step"))
    return out


def _strings(value: Any, path: tuple[Any, ...]) -> Iterable[tuple[tuple[Any, ...], str]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, (*path, i))
    elif isinstance(value, str):
        yield path, value


def _split(path: str) -> tuple[Any, ...]:
    parts: list[Any] = []
    for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path):
        parts.append(int(index) if index else name)
    return tuple(parts)


def load_flows(
    directory: Path, *, catalog: Catalog | None = None
) -> tuple[list[Recipe], list[Problem]]:
    """Every ``*.yaml``/``*.yml`` recipe in `directory`: the valid ones and all problems.

    Two files with the same flow name are a problem (the later file is left out).
    """
    recipes: list[Recipe] = []
    problems: list[Problem] = []
    names: dict[str, Path] = {}
    if not directory.is_dir():
        return recipes, problems
    files = sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")])
    for path in files:
        try:
            recipe = load_recipe(path, catalog=catalog)
        except RecipeError as exc:
            problems += exc.problems
            continue
        if recipe.name in names:
            problems.append(
                Problem(
                    str(path),
                    1,
                    "name",
                    f"flow {recipe.name!r} is also defined in {names[recipe.name]}",
                )
            )
            continue
        names[recipe.name] = path
        recipes.append(recipe)
    return recipes, problems


__all__ = [
    "MAX_INTERVAL",
    "MIN_INTERVAL",
    "TRIGGER_KINDS",
    "CatchUp",
    "ClickBankTrigger",
    "ManualTrigger",
    "PollTrigger",
    "Problem",
    "Recipe",
    "RecipeError",
    "ScheduleTrigger",
    "Step",
    "StepRetry",
    "Trigger",
    "TriggerKind",
    "WebhookTrigger",
    "load_flows",
    "load_recipe",
    "parse_duration",
    "parse_recipe",
]
