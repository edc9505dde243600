"""Runs one claimed run's steps, resuming after the last completed one.

Per step (and per ``for_each`` item) the commit points are:

1. ``start_attempt``: the attempt, its rendered inputs (redacted) and its idempotency key
   are stored as ``running`` BEFORE the action is called;
2. the action is called, carrying the key (``Idempotency-Key`` for ``http.request``, the
   delivery id for ``webhook.send``);
3. ``finish_attempt``: the output (redacted) or the error is stored.

A worker killed between 1 and 3 leaves a ``running`` attempt. On resume, that attempt's
outcome is unknown: if the action is idempotent (a read, PUT/DELETE, an upsert, an HTTP
request whose receiver honours the key) it is sent again with the same key; a GHL create
with an upsert twin is re-sent as the upsert; anything else is marked ``unknown`` and the
run goes dead for review instead of risking a duplicate. A step completed before the kill
is never repeated: its stored output feeds later steps.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Literal

from ghlbridge.catalog import Catalog
from ghlbridge.catalog.curated import Curated
from ghlbridge.flows import templates
from ghlbridge.flows.actions import (
    ActionRunner,
    ActionSpec,
    StepError,
    UnknownActionError,
    resolve_action,
)
from ghlbridge.flows.clients import ClientProvider, ConnectionProblem
from ghlbridge.flows.recipe import Recipe, Step
from ghlbridge.flows.redact import Redactor
from ghlbridge.flows.runs import RunState, StepState
from ghlbridge.flows.store import AttemptRecord, FlowStore, RunRecord
from ghlbridge.store.schema import utcnow

INLINE_RETRY_LIMIT = 5.0  # longer waits release the run as `retrying` instead of sleeping


def idempotency_key(
    flow: str, event_id: str, location_id: str | None, step_id: str, index: int
) -> str:
    """The same for every try of one step of one event (and location, and for_each item)."""
    raw = "\x1f".join([flow, event_id, location_id or "-", step_id, str(index)])
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:40]


@dataclass
class Outcome:
    kind: Literal["ok", "continue", "dead", "later"]
    output: Any = None
    error: str | None = None
    delay: float = 0.0


@dataclass
class RunResult:
    state: RunState
    error: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)


class RunExecutor:
    """Executes runs for one engine: resolves actions, renders inputs, records attempts."""

    def __init__(
        self,
        store: FlowStore,
        clients: ClientProvider,
        runner: ActionRunner,
        redactor: Redactor,
        *,
        catalog: Catalog,
        curated: Curated,
        env: Mapping[str, str],
        sleep: Any = asyncio.sleep,
    ) -> None:
        self.store = store
        self.clients = clients
        self.runner = runner
        self.redact = redactor
        self.catalog = catalog
        self.curated = curated
        self.env = dict(env)
        self._sleep = sleep

    async def execute(self, run: RunRecord, recipe: Recipe) -> RunResult:
        """Run (or resume) `run`'s steps; returns the state the run should move to."""
        attempts = await asyncio.to_thread(self.store.attempts, run.id)
        latest: dict[tuple[str, int], AttemptRecord] = {}
        tries: dict[tuple[str, int], int] = {}
        for a in attempts:
            latest[(a.step_id, a.item_index)] = a
            tries[(a.step_id, a.item_index)] = max(
                tries.get((a.step_id, a.item_index), 0), a.attempt
            )
        connection = self._connection_context(recipe, run)
        ctx: dict[str, Any] = {
            "trigger": run.trigger,
            "event": {"id": run.event_id, "flow": run.flow, "location_id": run.location_id},
            "steps": {},
            "env": self.env,
            "connection": connection,
            "location_id": run.location_id,
        }
        continued: list[str] = []
        for step in recipe.steps:
            try:
                spec = resolve_action(step.action, self.catalog, self.curated)
            except UnknownActionError as exc:
                return RunResult(RunState.DEAD, f"steps.{step.id}: {exc}", ctx["steps"])
            key0 = idempotency_key(run.flow, run.event_id, run.location_id, step.id, 0)
            prior = latest.get((step.id, 0))
            if prior is not None and prior.status == StepState.SKIPPED:
                ctx["steps"][step.id] = None
                continue
            try:
                if not self._condition(step, ctx):
                    await asyncio.to_thread(
                        self.store.record_skipped,
                        run_id=run.id,
                        step_id=step.id,
                        key=key0,
                        action=step.action,
                    )
                    ctx["steps"][step.id] = None
                    continue
                items = self._items(step, ctx)
            except templates.TemplateError as exc:
                return RunResult(RunState.DEAD, f"steps.{step.id}.{exc}", ctx["steps"])
            outputs: list[Any] = []
            for index, item in enumerate(items):
                outcome = await self._item(
                    run,
                    recipe,
                    step,
                    spec,
                    index,
                    item,
                    ctx,
                    latest.get((step.id, index)),
                    tries.get((step.id, index), 0),
                )
                if outcome.kind == "dead":
                    return RunResult(RunState.DEAD, outcome.error, ctx["steps"])
                if outcome.kind == "later":
                    result = RunResult(RunState.RETRYING, outcome.error, ctx["steps"])
                    result.outputs["__delay__"] = outcome.delay
                    return result
                if outcome.kind == "continue":
                    continued.append(f"steps.{step.id}: {outcome.error}")
                    outputs.append({"error": outcome.error})
                else:
                    outputs.append(outcome.output)
            ctx["steps"][step.id] = outputs if step.for_each is not None else outputs[0]
        if continued:
            return RunResult(RunState.FAILED, "; ".join(continued), ctx["steps"])
        return RunResult(RunState.SUCCEEDED, None, ctx["steps"])

    def _connection_context(self, recipe: Recipe, run: RunRecord) -> dict[str, Any]:
        try:
            context = dict(self.clients.context(recipe.connection))
        except ConnectionProblem:
            context = {"name": recipe.connection, "location_id": None, "company_id": None}
        if run.location_id:
            context["location_id"] = run.location_id
        return context

    def _condition(self, step: Step, ctx: dict[str, Any]) -> bool:
        if step.if_ is None:
            return True
        if isinstance(step.if_, bool):
            return step.if_
        return bool(templates.evaluate(step.if_, ctx, "if"))

    def _items(self, step: Step, ctx: dict[str, Any]) -> list[Any]:
        if step.for_each is None:
            return [None]
        value = (
            templates.evaluate(step.for_each, ctx, "for_each")
            if isinstance(step.for_each, str)
            else templates.render(step.for_each, ctx, "for_each")
        )
        if value is None:
            return []
        if not isinstance(value, list | tuple):
            raise templates.TemplateError("for_each", "must evaluate to a list")
        return list(value)

    async def _item(
        self,
        run: RunRecord,
        recipe: Recipe,
        step: Step,
        spec: ActionSpec,
        index: int,
        item: Any,
        ctx: dict[str, Any],
        prior: AttemptRecord | None,
        done_tries: int,
    ) -> Outcome:
        if prior is not None and prior.status == StepState.SUCCEEDED:
            return Outcome("ok", prior.output)
        local = {**ctx, "item": item, "index": index} if step.for_each is not None else ctx
        try:
            inputs = templates.render(step.with_, local, "with")
        except templates.TemplateError as exc:
            return Outcome("dead", error=f"steps.{step.id}.{exc}")
        resend = False
        if prior is not None and prior.status == StepState.RUNNING:
            # A worker died while this action was in flight: its outcome is unknown.
            if not spec.idempotent(inputs):
                await asyncio.to_thread(
                    self.store.finish_attempt,
                    prior.id,
                    StepState.UNKNOWN,
                    error="the worker stopped while this non-idempotent action was in flight; "
                    "check the target, then `ghlbridge runs replay` to send it again",
                )
                return Outcome(
                    "dead",
                    error=f"steps.{step.id}: outcome unknown after a crash "
                    f"({spec.name} is not idempotent); needs review",
                )
            await asyncio.to_thread(
                self.store.finish_attempt,
                prior.id,
                StepState.UNKNOWN,
                error="the worker stopped while the action was in flight; sent again with the "
                "same idempotency key",
            )
            resend = True
        elif prior is not None and prior.status == StepState.UNKNOWN:
            resend = True  # replayed after review
        key = idempotency_key(run.flow, run.event_id, run.location_id, step.id, index)
        limit = step.retry.max_attempts if step.on_error == "retry" else 1
        attempt = done_tries
        tried_here = 0
        while True:
            attempt += 1
            tried_here += 1
            attempt_id = await asyncio.to_thread(
                self.store.start_attempt,
                run_id=run.id,
                step_id=step.id,
                item_index=index,
                attempt=attempt,
                idempotency_key=key,
                action=step.action,
                idempotent=spec.idempotent(inputs),
                input=self.redact(inputs),
            )
            try:
                client = None
                if spec.kind == "ghl":
                    client = await self.clients.client(
                        step.connection or recipe.connection, run.location_id
                    )
                    self.redact.add(self.clients.secrets())
                try:
                    output = await self.runner.perform(
                        spec,
                        inputs,
                        client=client,
                        connection=ctx["connection"],
                        idempotency_key=key,
                        resend=resend,
                        app_connection=step.connection if spec.kind != "ghl" else None,
                    )
                finally:
                    self.redact.add(self.runner.secrets())
            except (StepError, ConnectionProblem) as exc:
                error = self.redact.text(str(exc))
                await asyncio.to_thread(
                    self.store.finish_attempt, attempt_id, StepState.FAILED, error=error
                )
                retryable = isinstance(exc, StepError) and exc.retryable
                unknown = isinstance(exc, StepError) and exc.unknown_outcome
                if unknown and not spec.idempotent(inputs):
                    return Outcome(
                        "dead",
                        error=f"{error} (outcome unknown; {spec.name} is not "
                        f"idempotent, so it is not sent again)",
                    )
                if retryable and tried_here < limit:
                    delay = step.retry.backoff * 2 ** (tried_here - 1) * random.uniform(0.8, 1.2)
                    resend = resend or unknown
                    if delay > INLINE_RETRY_LIMIT:
                        return Outcome("later", error=error, delay=delay)
                    await self._sleep(delay)
                    continue
                if step.on_error == "continue":
                    return Outcome("continue", error=error)
                return Outcome("dead", error=error)
            except asyncio.CancelledError:
                raise  # the attempt stays `running`: a resume decides what to do
            except Exception as exc:  # a bug or an unexpected library error: keep the record
                error = self.redact.text(f"{type(exc).__name__}: {exc}")
                await asyncio.to_thread(
                    self.store.finish_attempt, attempt_id, StepState.FAILED, error=error
                )
                return Outcome("dead", error=f"steps.{step.id}: {error}")
            await asyncio.to_thread(
                self.store.finish_attempt,
                attempt_id,
                StepState.SUCCEEDED,
                output=self.redact(output),
            )
            return Outcome("ok", output)

    async def finish(self, run: RunRecord, result: RunResult, owner: str) -> bool:
        """Move the run to the state `result` names (only if this worker still holds it)."""
        fields: dict[str, Any] = {"error": result.error}
        if result.state == RunState.RETRYING:
            delay = float(result.outputs.get("__delay__", 30.0))
            fields["next_attempt_at"] = utcnow() + timedelta(seconds=delay)
            fields["owner"] = None
            fields["lease_until"] = None
        return await asyncio.to_thread(
            self.store.move_run,
            run.id,
            result.state,
            expect=[RunState.RUNNING],
            expect_owner=owner,
            **fields,
        )


__all__ = ["RunExecutor", "RunResult", "idempotency_key"]
