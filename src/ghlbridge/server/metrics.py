"""``GET /metrics`` in the Prometheus text format (version 0.0.4), written by hand.

Why not prometheus_client: almost every value here is read at scrape time from the store
(runs by state, step failures and retries) or from objects that already count (each GHL
client's stats and rate budgets), so it would need a custom collector anyway; its default
registry is process-global, which a `create_app(settings)` factory must not share between
apps; and the format is a few lines. The server's own counters live in `ServerCounters`.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from ghlbridge.flows.clients import Clients
from ghlbridge.flows.engine import FlowEngine
from ghlbridge.store.schema import RUN_STATES, flow_events, flow_runs, step_attempts

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
Labels = Mapping[str, str]


@dataclass
class ServerCounters:
    """What the server itself counts (since start); thread-safe."""

    verification_failures: Counter[str] = field(default_factory=Counter)
    webhooks: Counter[tuple[str, str]] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def verification_failed(self, source: str, reason: str) -> None:
        with self._lock:
            self.verification_failures[f"{source}:{reason}"] += 1

    def webhook(self, source: str, outcome: str) -> None:
        with self._lock:
            self.webhooks[(source, outcome)] += 1

    def limited(self, route: str) -> None:
        with self._lock:
            self.rate_limited[route] += 1


class _Writer:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def metric(
        self, name: str, kind: str, help_text: str, samples: Iterable[tuple[Labels, float]]
    ) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _labels(labels: Labels) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items())
    return "{" + inner + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _counts(result: Any) -> dict[str, int]:
    """``{key: count}`` of a two-column (key, count) result."""
    return {str(key): int(count) for key, count in result.all()}


def render(db: Engine, engine: FlowEngine, counters: ServerCounters) -> str:
    """Every metric, read now. Synchronous (it queries the store): call it from a thread."""
    out = _Writer()
    with db.connect() as conn:
        by_state = _counts(
            conn.execute(select(flow_runs.c.status, func.count()).group_by(flow_runs.c.status))
        )
        run_retries = conn.execute(
            select(func.coalesce(func.sum(flow_runs.c.attempt - 1), 0)).where(
                flow_runs.c.attempt > 1
            )
        ).scalar_one()
        step_by_state = _counts(
            conn.execute(
                select(step_attempts.c.status, func.count()).group_by(step_attempts.c.status)
            )
        )
        step_retries = conn.execute(
            select(func.count()).select_from(step_attempts).where(step_attempts.c.attempt > 1)
        ).scalar_one()
        events = _counts(
            conn.execute(select(flow_events.c.source, func.count()).group_by(flow_events.c.source))
        )
    out.metric(
        "ghlbridge_runs",
        "gauge",
        "Flow runs in the store, by state.",
        [({"state": s}, by_state.get(s, 0)) for s in RUN_STATES],
    )
    out.metric(
        "ghlbridge_run_failures",
        "gauge",
        "Runs that ended failed or dead (dead-letter) and were not replayed.",
        [({}, by_state.get("failed", 0) + by_state.get("dead", 0))],
    )
    out.metric(
        "ghlbridge_run_retries_total",
        "counter",
        "Times a run was picked up again after a failed try.",
        [({}, run_retries)],
    )
    out.metric(
        "ghlbridge_step_attempts",
        "gauge",
        "Step attempts in the store, by state.",
        [({"state": s}, n) for s, n in sorted(step_by_state.items())],
    )
    out.metric(
        "ghlbridge_step_retries_total",
        "counter",
        "Step attempts that were retries of an earlier attempt.",
        [({}, step_retries)],
    )
    out.metric(
        "ghlbridge_events",
        "gauge",
        "Stored trigger events, by source.",
        [({"source": s}, n) for s, n in sorted(events.items())],
    )
    _client_metrics(out, engine)
    with counters._lock:
        failures = sorted(counters.verification_failures.items())
        webhooks = sorted(counters.webhooks.items())
        limited = sorted(counters.rate_limited.items())
    out.metric(
        "ghlbridge_webhook_verification_failures_total",
        "counter",
        "Inbound webhooks refused: unsigned, bad or malformed signature, malformed body, "
        "stale timestamp, too large.",
        [
            ({"source": key.split(":", 1)[0], "reason": key.split(":", 1)[1]}, n)
            for key, n in failures
        ],
    )
    out.metric(
        "ghlbridge_webhooks_received_total",
        "counter",
        "Verified inbound webhooks, by source and outcome (accepted, duplicate).",
        [({"source": s, "outcome": o}, n) for (s, o), n in webhooks],
    )
    out.metric(
        "ghlbridge_http_rate_limited_total",
        "counter",
        "Requests refused with 429 by the per-source limit of the unauthenticated routes.",
        [({"route": r}, n) for r, n in limited],
    )
    return out.text()


def _client_metrics(out: _Writer, engine: FlowEngine) -> None:
    """The engine's GHL clients: requests, 429s, retries, and each rate budget in use."""
    clients = engine.clients.active() if isinstance(engine.clients, Clients) else {}
    requests, limited, retries = [], [], []
    used, allowed, daily = [], [], []
    for (connection, location), client in sorted(
        clients.items(), key=lambda kv: (kv[0][0] or "", kv[0][1] or "")
    ):
        labels = {"connection": connection or "env", "location": location or ""}
        requests.append((labels, float(client.stats.requests)))
        limited.append((labels, float(client.stats.rate_limited)))
        retries.append((labels, float(client.stats.retries)))
        for key, budget in sorted(client.rate_limiter.snapshot().items()):
            app, _, resource = key.rpartition(":")
            budget_labels = {"app": app, "location": resource}
            used.append((budget_labels, budget["used"]))
            allowed.append((budget_labels, budget["max"]))
            if budget["daily_remaining"] >= 0:
                daily.append((budget_labels, budget["daily_remaining"]))
    out.metric(
        "ghlbridge_ghl_requests_total", "counter", "Requests sent to GHL by flows.", requests
    )
    out.metric(
        "ghlbridge_ghl_rate_limited_total",
        "counter",
        "GHL answers with status 429 (rate limited) to flows.",
        limited,
    )
    out.metric(
        "ghlbridge_ghl_retries_total", "counter", "Requests to GHL sent again by flows.", retries
    )
    out.metric(
        "ghlbridge_rate_budget_used",
        "gauge",
        "Requests in GHL's current burst window, per app (connection) and location.",
        used,
    )
    out.metric(
        "ghlbridge_rate_budget_max",
        "gauge",
        "Requests GHL allows per burst window, per app and location.",
        allowed,
    )
    out.metric(
        "ghlbridge_rate_budget_daily_remaining",
        "gauge",
        "Requests left in GHL's daily budget, per app and location (as GHL last said).",
        daily,
    )


__all__ = ["CONTENT_TYPE", "ServerCounters", "render"]
