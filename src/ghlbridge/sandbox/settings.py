"""What a sandbox instance is configured with; one frozen value passed to `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple
from urllib.parse import urlsplit


class RateLimit(NamedTuple):
    """GHL's burst limit: at most `max` requests per `interval` seconds per (app, resource)."""

    max: int = 100
    interval: float = 10.0


class Burst429(NamedTuple):
    """A window of `length` consecutive requests answered 429 in every `every` requests."""

    length: int
    every: int


@dataclass(frozen=True, slots=True)
class SandboxSettings:
    """Settings of one sandbox; `None` ids and tokens are generated from `seed`.

    The defaults are GHL's documented limits (100 requests / 10 s burst, 200,000 a day) and
    its access-token lifetime (86,399 s). `token` and `location_id` fix a location PIT with
    every scope, so scripts can hard-code them (`ghlbridge sandbox --token T --location-id L`).
    """

    seed: int = 0
    rate_limit: RateLimit = field(default_factory=RateLimit)
    daily_limit: int = 200_000
    latency_ms: float = 0.0
    fault_rate: float = 0.0
    token: str | None = None
    location_id: str | None = None
    company_id: str | None = None
    agency_token: str | None = None
    oauth_client_id: str | None = None
    oauth_client_secret: str | None = None
    access_token_ttl: int = 86_399
    fake_list_size: int = 5
    """How many items a schema-faked list operation holds in total (paged by the op's style)."""
    demo_records: int = 3
    """Records seeded per location where GHL has no create endpoint (Social Planner tags)."""

    # -- faults (all drawn from the seed) --
    timeout_rate: float = 0.0
    """Share of requests whose answer is held `timeout_seconds` (the request takes effect)."""
    timeout_seconds: float = 30.0
    drop_rate: float = 0.0
    """Share of requests whose connection is dropped unanswered (before any effect)."""
    burst_429: Burst429 | None = None

    # -- webhooks --
    webhook_urls: tuple[str, ...] = ()
    webhook_fault_rate: float = 0.0
    """Share of webhook deliveries dropped without being sent."""
    webhook_retry_interval: float = 600.0
    """Seconds between retries after a 429 from the receiver (GHL: about 10 minutes)."""
    webhook_max_retries: int = 6
    webhook_timeout: float = 10.0
    webhook_queue_size: int = 10_000
    webhook_concurrency: int = 1
    """Deliveries in flight at once; 1 keeps each URL's events in order."""
    webhook_log_size: int = 10_000
    webhook_ed25519_key_file: str | None = None
    webhook_rsa_key_file: str | None = None
    """PEM private keys; unset ones are generated from `seed`."""

    # -- seed data --
    seed_data: bool = False
    """Build a realistic agency at start: `seed_locations` locations, `seed_contacts` contacts."""
    seed_locations: int = 3
    seed_contacts: int = 2000

    def __post_init__(self) -> None:
        if not isinstance(self.rate_limit, RateLimit):
            object.__setattr__(self, "rate_limit", RateLimit(*self.rate_limit))
        if self.burst_429 is not None and not isinstance(self.burst_429, Burst429):
            object.__setattr__(self, "burst_429", Burst429(*self.burst_429))
        if isinstance(self.webhook_urls, str):
            object.__setattr__(self, "webhook_urls", (self.webhook_urls,))
        elif not isinstance(self.webhook_urls, tuple):
            object.__setattr__(self, "webhook_urls", tuple(self.webhook_urls))
        problems = []
        if self.rate_limit.max < 1 or self.rate_limit.interval <= 0:
            problems.append("rate_limit needs max >= 1 and interval > 0")
        if self.daily_limit < 1:
            problems.append("daily_limit must be >= 1")
        for name in ("fault_rate", "timeout_rate", "drop_rate", "webhook_fault_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be between 0 and 1")
        if self.timeout_seconds <= 0:
            problems.append("timeout_seconds must be > 0")
        burst = self.burst_429
        if burst is not None and not 1 <= burst.length < burst.every:
            problems.append("burst_429 needs 1 <= length < every")
        if self.webhook_retry_interval < 0 or self.webhook_timeout <= 0:
            problems.append("webhook_retry_interval must be >= 0 and webhook_timeout > 0")
        if self.webhook_max_retries < 0:
            problems.append("webhook_max_retries must be >= 0")
        if min(self.webhook_queue_size, self.webhook_concurrency, self.webhook_log_size) < 1:
            problems.append(
                "webhook_queue_size, webhook_concurrency and webhook_log_size must be >= 1"
            )
        bad_urls = [u for u in self.webhook_urls if not is_http_url(u)]
        if bad_urls:
            problems.append(f"webhook_urls must be http(s) URLs: {', '.join(map(repr, bad_urls))}")
        if self.seed_locations < 1 or self.seed_contacts < 0:
            problems.append("seed_locations must be >= 1 and seed_contacts >= 0")
        if self.latency_ms < 0:
            problems.append("latency_ms must be >= 0")
        if self.access_token_ttl < 1:
            problems.append("access_token_ttl must be >= 1")
        if self.fake_list_size < 0 or self.demo_records < 0:
            problems.append("fake_list_size and demo_records must be >= 0")
        if problems:
            raise ValueError("invalid sandbox settings: " + "; ".join(problems))


def is_http_url(url: object) -> bool:
    if not isinstance(url, str):
        return False
    parts = urlsplit(url)
    return parts.scheme in ("http", "https") and bool(parts.netloc)
