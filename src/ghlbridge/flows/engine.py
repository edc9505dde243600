"""The flow engine: an asyncio scheduler (polls, catch-ups, schedules), a bounded pool of
run workers, and the ingest path for webhook events.

    engine = FlowEngine(FlowStore(db), recipes, Clients(connections))
    async with engine:                   # resumes unfinished runs, starts the triggers
        await engine.ingest_event("ghl", payload, dedupe_key=payload["webhookId"])

Durability: every trigger stores its event and runs before moving on (`FlowStore.accept`);
workers claim runs under a lease they renew while working, so the runs of a worker that
died (kill -9) are taken over when its lease expires, at once if it was a process of this
machine that no longer exists. A taken-over run resumes after its last completed step.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ghlbridge.catalog import Catalog, load_catalog
from ghlbridge.catalog.curated import Curated, load_curated
from ghlbridge.flows.actions import ActionRunner
from ghlbridge.flows.clients import ClientProvider
from ghlbridge.flows.executor import RunExecutor
from ghlbridge.flows.recipe import Recipe
from ghlbridge.flows.redact import Redactor, flow_env
from ghlbridge.flows.runs import FINAL_STATES, RunState
from ghlbridge.flows.store import Accepted, FlowStore, NewEvent, NewRun, RunRecord, worker_id
from ghlbridge.flows.triggers import clickbank, manual, schedule, webhook
from ghlbridge.flows.triggers.keys import Target
from ghlbridge.flows.triggers.polling import PollResult, PollSpec, due_in, jittered, poll
from ghlbridge.store.schema import utcnow

log = logging.getLogger("ghlbridge.flows")


@dataclass
class EngineSettings:
    concurrency: int = 8
    lease: float = 30.0
    claim_every: float = 0.5
    tick: float = 0.25
    drain_timeout: float = 10.0
    locations_refresh: float = 600.0
    poll_interval_override: float | None = None
    """Test-only: every poll, catch-up and interval schedule uses this interval (it may be
    below the 10 s recipes are held to). Never set from a recipe."""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EngineSettings:
        env = os.environ if environ is None else environ
        settings = cls()
        if env.get("GHLBRIDGE_TEST_POLL_INTERVAL"):
            settings.poll_interval_override = float(env["GHLBRIDGE_TEST_POLL_INTERVAL"])
        if env.get("GHLBRIDGE_FLOW_LEASE"):
            settings.lease = float(env["GHLBRIDGE_FLOW_LEASE"])
        if env.get("GHLBRIDGE_FLOW_CONCURRENCY"):
            settings.concurrency = int(env["GHLBRIDGE_FLOW_CONCURRENCY"])
        return settings


class FlowEngine:
    def __init__(
        self,
        store: FlowStore,
        flows: Sequence[Recipe],
        clients: ClientProvider,
        *,
        settings: EngineSettings | None = None,
        runner: ActionRunner | None = None,
        environ: Mapping[str, str] | None = None,
        catalog: Catalog | None = None,
        curated: Curated | None = None,
    ) -> None:
        self.store = store
        self.flows = {r.name: r for r in flows if r.enabled}
        self.clients = clients
        self.settings = settings or EngineSettings()
        self.catalog = catalog or load_catalog()
        self.curated = curated or load_curated(self.catalog)
        self.redactor = Redactor()
        env = flow_env(os.environ if environ is None else environ, self.redactor)
        self.runner = runner or ActionRunner()
        self.executor = RunExecutor(
            store,
            clients,
            self.runner,
            self.redactor,
            catalog=self.catalog,
            curated=self.curated,
            env=env,
        )
        self.owner = worker_id()
        self._targets: dict[str, list[Target]] = {}
        self._targets_at: dict[str, float] = {}
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._trigger_tasks: dict[str, asyncio.Task[Any]] = {}
        self._next_due: dict[str, float] = {}
        self._poll_locks: dict[str, asyncio.Lock] = {}
        self._loops: list[asyncio.Task[None]] = []
        self._wake = asyncio.Event()
        self._stopping = False
        self.polls_done = 0

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> FlowEngine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self, *, triggers: bool = True, workers: bool = True) -> None:
        """Resume unfinished runs (orphans of dead local processes at once) and start."""
        self._stopping = False
        reclaimed = await asyncio.to_thread(self.store.reclaim_orphans)
        if reclaimed:
            log.info("taking over %d runs of a stopped worker", reclaimed)
        if workers:
            self._loops.append(asyncio.create_task(self._claim_loop(), name="flows-claim"))
            self._loops.append(asyncio.create_task(self._lease_loop(), name="flows-lease"))
        if triggers:
            self._loops.append(asyncio.create_task(self._trigger_loop(), name="flows-triggers"))

    async def stop(self) -> None:
        """Stop triggering and claiming; let runs in flight finish (up to `drain_timeout`),
        then hand the rest back as pending."""
        self._stopping = True
        for task in self._loops:
            task.cancel()
        for task in self._loops:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._loops.clear()
        for task in list(self._trigger_tasks.values()):
            task.cancel()
        await asyncio.gather(*self._trigger_tasks.values(), return_exceptions=True)
        self._trigger_tasks.clear()
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=self.settings.drain_timeout)
        for run_id, task in list(self._inflight.items()):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
            await asyncio.to_thread(
                self.store.move_run,
                run_id,
                RunState.PENDING,
                expect=[RunState.RUNNING],
                expect_owner=self.owner,
                owner=None,
                lease_until=None,
            )
        await self.clients.aclose()
        await self.runner.aclose()

    # -- events in ------------------------------------------------------------------------

    async def ingest_event(
        self, source: str, payload: dict[str, Any], *, dedupe_key: str | None = None
    ) -> Accepted:
        """Store a trigger event (a GHL webhook, a ClickBank INS notification with source
        ``clickbank``) and the runs it starts; returns after the commit, so the caller may
        acknowledge it. A repeated `dedupe_key` stores nothing."""
        flows = [(r, await self.targets(r)) for r in self.flows.values()]
        if source == clickbank.SOURCE:
            runs = clickbank.runs_for(payload, flows)
            kind, location = clickbank.event_type(payload), None
        else:
            runs = webhook.runs_for(payload, flows)
            kind, location = webhook.event_type(payload), webhook.event_location(payload)
        accepted = await asyncio.to_thread(
            self.store.accept,
            NewEvent(
                source=source,
                type=kind,
                location_id=location,
                payload=payload,
                dedupe_key=f"{source}:{dedupe_key}" if dedupe_key else None,
            ),
            runs,
        )
        if accepted.run_ids:
            self._wake.set()
        return accepted

    async def ingest_for_flow(
        self,
        flow: str,
        payload: dict[str, Any],
        *,
        source: str,
        event_type: str | None = None,
        dedupe_key: str | None = None,
    ) -> Accepted:
        """Store an event addressed to one flow (a generic inbound hook, a ClickBank INS) and
        its runs, in one transaction; returns after the commit. A repeated `dedupe_key` (per
        source and flow) stores nothing."""
        recipe = self._recipe(flow)
        targets = await self.targets(recipe)
        accepted = await asyncio.to_thread(
            self.store.accept,
            NewEvent(
                source=source,
                type=event_type or source,
                flow=flow,
                payload=payload,
                dedupe_key=f"{source}:{flow}:{dedupe_key}" if dedupe_key else None,
            ),
            [NewRun(flow, payload, t.location_id) for t in targets],
        )
        if accepted.run_ids:
            self._wake.set()
        return accepted

    def enable(self, recipe: Recipe) -> None:
        """Start triggering and working on `recipe` (or its new version) from now on."""
        self.flows[recipe.name] = recipe
        self._targets.pop(recipe.name, None)
        self._wake.set()

    def disable(self, flow: str) -> None:
        """Stop triggering `flow` and claiming its runs; runs in progress finish, pending ones
        wait until it is enabled again."""
        self.flows.pop(flow, None)
        self._targets.pop(flow, None)

    @property
    def running(self) -> bool:
        """Whether the engine's loops are running (between `start` and `stop`)."""
        return bool(self._loops) and not self._stopping

    async def start_manual(self, flow: str, data: dict[str, Any]) -> Accepted:
        recipe = self._recipe(flow)
        accepted = await manual.start(flow, data, await self.targets(recipe), self.store)
        self._wake.set()
        return accepted

    async def poll_now(self, flow: str) -> list[PollResult]:
        """Poll a flow's trigger (or its webhook catch-up) once, for every target."""
        recipe = self._recipe(flow)
        spec = self._poll_spec(recipe)
        if spec is None:
            raise ValueError(f"flow {flow!r} has no polling trigger or catch-up")
        results = [await self._poll_target(recipe, spec, t) for t in await self.targets(recipe)]
        self._wake.set()
        return results

    def _recipe(self, flow: str) -> Recipe:
        try:
            return self.flows[flow]
        except KeyError:
            raise KeyError(f"no enabled flow named {flow!r}") from None

    # -- targets --------------------------------------------------------------------------

    async def targets(self, recipe: Recipe) -> list[Target]:
        """Where the flow runs: its connection's location, or each agency location."""
        now = time.monotonic()
        cached = self._targets.get(recipe.name)
        if cached is not None and (
            recipe.locations != "all"
            or now - self._targets_at[recipe.name] < self.settings.locations_refresh
        ):
            return cached
        if isinstance(recipe.locations, list):
            found = [Target(recipe.connection, loc) for loc in recipe.locations]
        elif recipe.locations == "all":
            found = [
                Target(recipe.connection, loc)
                for loc in await self.clients.locations(recipe.connection)
            ]
        else:
            try:
                location = self.clients.context(recipe.connection).get("location_id")
            except LookupError:
                location = None
            found = [Target(recipe.connection, location)]
        self._targets[recipe.name], self._targets_at[recipe.name] = found, now
        return found

    # -- runs -----------------------------------------------------------------------------

    async def run_until_settled(
        self, run_ids: Sequence[str], timeout: float = 60.0
    ) -> list[RunRecord]:
        """Work on the given runs only until each is final or waiting to retry."""
        deadline = time.monotonic() + timeout
        while True:
            found = [await asyncio.to_thread(self.store.get_run, i) for i in run_ids]
            runs = [r for r in found if r is not None]
            if all(r.status in FINAL_STATES or r.status == RunState.RETRYING for r in runs):
                return runs
            if time.monotonic() > deadline:
                raise TimeoutError("runs did not finish in time")
            await self._claim_some(run_ids=run_ids)
            if self._inflight:
                await asyncio.wait(list(self._inflight.values()), timeout=0.5)
            else:
                await asyncio.sleep(0.05)

    async def wait_idle(self, timeout: float = 30.0) -> None:
        """Until no run is pending, running or due for a retry (tests and `flows run`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            counts = await asyncio.to_thread(self.store.count_runs)
            busy = sum(counts.get(s, 0) for s in ("pending", "running"))
            if not busy and not self._inflight:
                return
            self._wake.set()
            await asyncio.sleep(0.05)
        raise TimeoutError(f"flows still busy after {timeout:g}s")

    async def _claim_loop(self) -> None:
        while not self._stopping:
            try:
                await self._claim_some()
            except Exception:
                log.exception("claiming runs failed; trying again")
            self._wake.clear()
            await self._nap(self.settings.claim_every)

    async def _nap(self, seconds: float) -> None:
        """Sleep until woken (new runs) or `seconds` pass. (Not `wait_for`: on 3.11 it can
        swallow a cancellation that arrives as the wait ends.)"""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait([waiter], timeout=seconds)
        finally:
            waiter.cancel()

    async def _claim_some(self, run_ids: Sequence[str] | None = None) -> None:
        if self._stopping:
            return
        free = self.settings.concurrency - len(self._inflight)
        if free <= 0:
            return
        runs = await asyncio.to_thread(
            self.store.claim_runs,
            self.owner,
            free,
            self.settings.lease,
            flows=list(self.flows),
            run_ids=run_ids,
        )
        for run in runs:
            task = asyncio.create_task(self._work(run), name=f"run-{run.id}")
            self._inflight[run.id] = task
            task.add_done_callback(functools.partial(self._done, run.id))

    def _done(self, run_id: str, _task: asyncio.Task[None]) -> None:
        self._inflight.pop(run_id, None)

    async def _work(self, run: RunRecord) -> None:
        recipe = self.flows.get(run.flow)
        if recipe is None:  # disabled since it was claimed: hand it back
            await asyncio.to_thread(
                self.store.move_run,
                run.id,
                RunState.PENDING,
                expect=[RunState.RUNNING],
                expect_owner=self.owner,
                owner=None,
                lease_until=None,
            )
            return
        try:
            result = await self.executor.execute(run, recipe)
            moved = await self.executor.finish(run, result, self.owner)
            if not moved:
                log.warning("run %s was taken over by another worker", run.id)
            if result.state == RunState.DEAD:
                log.warning("run %s of %s is dead: %s", run.id, run.flow, result.error)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the store or a bug: keep the run, try again later
            log.exception("run %s failed unexpectedly", run.id)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(
                    self.store.move_run,
                    run.id,
                    RunState.RETRYING,
                    expect=[RunState.RUNNING],
                    expect_owner=self.owner,
                    error=f"{type(exc).__name__}: {exc}",
                    owner=None,
                    lease_until=None,
                    next_attempt_at=utcnow(),
                )
        finally:
            self._wake.set()

    async def _lease_loop(self) -> None:
        every = max(0.2, self.settings.lease / 3)
        while not self._stopping:
            await asyncio.sleep(every)
            try:
                await asyncio.to_thread(
                    self.store.renew_leases, self.owner, list(self._inflight), self.settings.lease
                )
                await asyncio.to_thread(self.store.prune_dedupe)
            except Exception:
                log.exception("renewing leases failed")

    # -- triggers -------------------------------------------------------------------------

    def _poll_spec(self, recipe: Recipe) -> PollSpec | None:
        trig = recipe.trigger
        if trig.poll is not None:
            p = trig.poll
            return PollSpec.resolve(
                recipe.name,
                p.op,
                p.with_,
                catalog=self.catalog,
                curated=self.curated,
                mode=p.mode,
                id_field=p.id_field,
                updated_field=p.updated_field,
                every=p.every,
                replay_history=p.replay_history,
                max_items=p.max_items,
                page_size=p.page_size,
            )
        return webhook.catch_up_spec(recipe, self.catalog, self.curated)

    def _interval(self, every: float) -> float:
        override = self.settings.poll_interval_override
        return override if override is not None else every

    async def _trigger_loop(self) -> None:
        while not self._stopping:
            for recipe in list(self.flows.values()):
                try:
                    await self._tick(recipe)
                except Exception:
                    log.exception("trigger of flow %s failed", recipe.name)
            await asyncio.sleep(self.settings.tick)

    async def _tick(self, recipe: Recipe) -> None:
        now = time.monotonic()
        spec = self._poll_spec(recipe)
        if spec is not None:
            for target in await self.targets(recipe):
                key = f"{spec.source}:{recipe.name}:{target.label}"
                if key in self._trigger_tasks:
                    continue
                if key not in self._next_due:
                    wait = await asyncio.to_thread(
                        due_in, self.store, spec, target, self._interval(spec.every)
                    )
                    self._next_due[key] = now + wait
                if now >= self._next_due[key]:
                    task = asyncio.create_task(self._poll_task(key, recipe, spec, target))
                    self._trigger_tasks[key] = task
        sched = recipe.trigger.schedule
        if sched is not None:
            key = f"schedule:{recipe.name}"
            if now >= self._next_due.get(key, 0.0):
                every = self._interval(sched.every) if sched.every is not None else None
                created, next_at = await schedule.fire_if_due(
                    recipe.name, sched, await self.targets(recipe), self.store, every=every
                )
                if created:
                    self._wake.set()
                self._next_due[key] = now + max(
                    0.0, min((next_at - utcnow()).total_seconds(), 60.0)
                )

    async def _poll_task(self, key: str, recipe: Recipe, spec: PollSpec, target: Target) -> None:
        try:
            await self._poll_target(recipe, spec, target)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning(
                "poll of %s (%s) failed: %s",
                recipe.name,
                target.label,
                self.redactor.text(str(exc)),
            )
        finally:
            self._next_due[key] = time.monotonic() + jittered(self._interval(spec.every))
            self._trigger_tasks.pop(key, None)

    async def _poll_target(self, recipe: Recipe, spec: PollSpec, target: Target) -> PollResult:
        """One poll; polls of one (flow, target) never overlap (a baseline must finish
        before a later poll decides what is new)."""
        lock = self._poll_locks.setdefault(spec.checkpoint_key(target), asyncio.Lock())
        async with lock:
            return await self._poll_locked(recipe, spec, target)

    async def _poll_locked(self, recipe: Recipe, spec: PollSpec, target: Target) -> PollResult:
        client = await self.clients.client(recipe.connection, target.location_id)
        self.redactor.add(self.clients.secrets())
        context = {
            "env": self.executor.env,
            "connection": self.clients.context(recipe.connection),
            "location_id": target.location_id,
        }
        result = await poll(spec, target, client, self.store, context=context)
        self.polls_done += 1
        if result.runs:
            self._wake.set()
        return result


__all__ = ["EngineSettings", "FlowEngine"]
