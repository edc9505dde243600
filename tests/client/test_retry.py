"""RetryPolicy: what is retried, for which methods, and how long the backoff waits."""

from __future__ import annotations

import random

import pytest

from ghlbridge.client.errors import (
    AuthError,
    BadRequestError,
    ConnectError,
    ConnectionDropped,
    DailyLimitExceeded,
    NotFoundError,
    RateLimitError,
    RequestTimeout,
    ServerError,
)
from ghlbridge.client.retry import RetryPolicy

POLICY = RetryPolicy()
ALL_METHODS = ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "POST", "PATCH"]


@pytest.mark.parametrize("method", ALL_METHODS)
def test_429_is_always_retryable(method: str) -> None:
    assert POLICY.is_retryable(method=method, kind="write", status=429, error=None)
    err = RateLimitError(429, "Too many requests")
    assert POLICY.is_retryable(method=method, kind="write", status=None, error=err)


@pytest.mark.parametrize("method", ALL_METHODS)
def test_connect_error_is_always_retryable(method: str) -> None:
    err = ConnectError("cannot connect")
    assert POLICY.is_retryable(method=method, kind="write", status=None, error=err)


def test_daily_limit_is_not_retried() -> None:
    err = DailyLimitExceeded(429, "daily budget spent")
    assert not POLICY.is_retryable(method="GET", kind="read", status=429, error=err)


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "get"])
def test_gateway_errors_are_retried_for_idempotent_methods(status: int, method: str) -> None:
    assert POLICY.is_retryable(method=method, kind="write", status=status, error=None)


@pytest.mark.parametrize("status", [502, 503, 504])
@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_gateway_errors_are_not_retried_for_writes(status: int, method: str) -> None:
    assert not POLICY.is_retryable(method=method, kind="write", status=status, error=None)
    err = ServerError(status, "Bad gateway")
    assert not POLICY.is_retryable(method=method, kind="write", status=None, error=err)


def test_post_search_marked_read_is_retried() -> None:
    assert POLICY.is_retryable(method="POST", kind="read", status=503, error=None)
    err = RequestTimeout("no answer")
    assert POLICY.is_retryable(method="POST", kind="read", status=None, error=err)


def test_retry_writes_opts_writes_in() -> None:
    policy = RetryPolicy(retry_writes=True)
    assert policy.is_retryable(method="POST", kind="write", status=502, error=None)
    err = ConnectionDropped("dropped")
    assert policy.is_retryable(method="PATCH", kind="write", status=None, error=err)


@pytest.mark.parametrize("error", [RequestTimeout("t"), ConnectionDropped("d")])
def test_timeouts_and_drops_depend_on_safety(error: Exception) -> None:
    assert POLICY.is_retryable(method="GET", kind="read", status=None, error=error)
    assert not POLICY.is_retryable(method="POST", kind="write", status=None, error=error)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422, 500, 501])
def test_other_statuses_are_never_retried(status: int) -> None:
    assert not POLICY.is_retryable(method="GET", kind="read", status=status, error=None)
    assert not RetryPolicy(retry_writes=True).is_retryable(
        method="GET", kind="read", status=status, error=None
    )


@pytest.mark.parametrize(
    "error", [BadRequestError(400, "bad"), AuthError(401, "no"), NotFoundError(404, "gone")]
)
def test_other_api_errors_are_never_retried(error: Exception) -> None:
    assert not POLICY.is_retryable(method="GET", kind="read", status=None, error=error)


def test_unknown_errors_are_not_retried() -> None:
    assert not POLICY.is_retryable(method="GET", kind="read", status=None, error=ValueError("x"))
    assert not POLICY.is_retryable(method="GET", kind="read", status=None, error=None)


def test_custom_retry_statuses() -> None:
    policy = RetryPolicy(retry_statuses=frozenset({500}))
    assert policy.is_retryable(method="GET", kind="read", status=500, error=None)
    assert not policy.is_retryable(method="GET", kind="read", status=503, error=None)
    assert policy.is_retryable(method="GET", kind="read", status=429, error=None)


def test_delay_is_full_jitter_within_the_exponential_bound() -> None:
    rng = random.Random(1234)
    policy = RetryPolicy(base_delay=0.5, max_delay=30.0, rand=rng.random)
    for attempt in range(1, 7):
        bound = 0.5 * 2 ** (attempt - 1)
        samples = [policy.delay(attempt) for _ in range(300)]
        assert all(0.0 <= s <= bound for s in samples)
        # Full jitter spreads over the whole range, not just near the bound.
        assert min(samples) < bound * 0.1
        assert max(samples) > bound * 0.9


def test_delay_is_deterministic_with_a_seeded_random() -> None:
    a = RetryPolicy(rand=random.Random(42).random)
    b = RetryPolicy(rand=random.Random(42).random)
    assert [a.delay(n) for n in range(1, 6)] == [b.delay(n) for n in range(1, 6)]


def test_delay_is_capped_at_max_delay() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, rand=lambda: 1.0)
    assert policy.delay(1) == 0.5
    assert policy.delay(3) == 2.0
    assert policy.delay(4) == 4.0
    assert policy.delay(10) == 4.0
    assert policy.delay(10_000) == 4.0  # no overflow on absurd attempt numbers


def test_retry_after_is_a_floor() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=4.0, rand=lambda: 0.5)
    assert policy.delay(1, retry_after=3.0) == 3.0
    assert policy.delay(1, retry_after=60.0) == 60.0  # never shortened, even past max_delay
    assert policy.delay(4, retry_after=0.1) == 2.0


def test_attempt_budget() -> None:
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(1) and policy.should_retry(2)
    assert not policy.should_retry(3)
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
