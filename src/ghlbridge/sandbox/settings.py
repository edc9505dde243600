"""What a sandbox instance is configured with; one frozen value passed to `create_app`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple


class RateLimit(NamedTuple):
    """GHL's burst limit: at most `max` requests per `interval` seconds per (app, resource)."""

    max: int = 100
    interval: float = 10.0


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

    def __post_init__(self) -> None:
        if not isinstance(self.rate_limit, RateLimit):
            object.__setattr__(self, "rate_limit", RateLimit(*self.rate_limit))
        problems = []
        if self.rate_limit.max < 1 or self.rate_limit.interval <= 0:
            problems.append("rate_limit needs max >= 1 and interval > 0")
        if self.daily_limit < 1:
            problems.append("daily_limit must be >= 1")
        if not 0.0 <= self.fault_rate <= 1.0:
            problems.append("fault_rate must be between 0 and 1")
        if self.latency_ms < 0:
            problems.append("latency_ms must be >= 0")
        if self.access_token_ttl < 1:
            problems.append("access_token_ttl must be >= 1")
        if self.fake_list_size < 0 or self.demo_records < 0:
            problems.append("fake_list_size and demo_records must be >= 0")
        if problems:
            raise ValueError("invalid sandbox settings: " + "; ".join(problems))
