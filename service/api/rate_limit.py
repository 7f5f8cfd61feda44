"""Per-principal rate limits (token buckets) for expensive calls: suggest and job submission.

A limiter answers ``acquire(key) -> seconds to wait`` (0.0: allowed). Two kinds:

- :class:`TokenBucketLimiter`, in this process: each API process limits on its own.
- :class:`service.api.shared_rate_limit.RedisTokenBucketLimiter`: one bucket per principal in Redis,
  shared by every API process (chosen by :func:`build_rate_limits` when Redis is configured).

Requests of the implicit ``local`` principal (local mode: one user on a loopback server) are not
limited unless ``rate_limit_local_mode`` is set.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass
from typing import Protocol

from service.auth import Principal
from service.config import Settings


class Limiter(Protocol):
    """A rate limiter keyed by principal."""

    def acquire(self, key: str) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""


def default_burst(rate_per_minute: float) -> int:
    """Burst size of a limit: ten seconds' worth of calls, at least one."""
    return max(1, int(rate_per_minute // 6) or 1)


class TokenBucketLimiter:
    """``rate_per_minute`` calls per key, bursts up to ``burst``; 0 disables the limit."""

    def __init__(self, rate_per_minute: float, burst: int | None = None) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(burst if burst is not None else default_burst(rate_per_minute))
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.capacity, now))
            tokens = min(self.capacity, tokens + (now - last) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


@dataclass
class RateLimits:
    """The limiters of an app, where their state lives, and whether local mode is limited."""

    limiters: dict[str, Limiter]
    scope: str
    limit_local_mode: bool = False


def shared_redis_url(settings: Settings) -> str | None:
    """The Redis that holds limits shared by all API processes: ``redis_url``, else the Celery
    broker when jobs go through it; None means per-process limits."""
    if settings.redis_url:
        return settings.redis_url
    if settings.job_backend == "celery" and settings.broker_url.startswith(("redis://", "rediss://")):
        return settings.broker_url
    return None


def build_rate_limits(settings: Settings) -> RateLimits:
    """Limiters for suggest and job submission, shared through Redis when it is configured."""
    rates = {"suggest": settings.rate_limit_suggest_per_minute, "jobs": settings.rate_limit_jobs_per_minute}
    url = shared_redis_url(settings)
    if url is None:
        limiters: dict[str, Limiter] = {action: TokenBucketLimiter(rate) for action, rate in rates.items()}
        scope = "per process (no Redis configured: each API process counts on its own)"
    else:
        from service.api.shared_rate_limit import RedisTokenBucketLimiter, redact

        limiters = {action: RedisTokenBucketLimiter(url, action, rate, default_burst(rate))
                    for action, rate in rates.items()}
        scope = f"shared by every API process through Redis at {redact(url)}"
    return RateLimits(limiters, scope, settings.rate_limit_local_mode)


def retry_after_header(seconds: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))


def enforce(request, principal: Principal, action: str) -> None:
    """Raise 429 (with ``Retry-After``) when ``principal`` is over its ``action`` budget.

    The limits live in ``app.state.rate_limits`` (a :class:`RateLimits`).
    """
    from fastapi import HTTPException

    limits: RateLimits | None = getattr(request.app.state, "rate_limits", None)
    if limits is None or (principal.implicit and not limits.limit_local_mode):
        return
    limiter = limits.limiters.get(action)
    if limiter is None:
        return
    wait = limiter.acquire(principal.name)
    if wait > 0:
        raise HTTPException(
            429, f"rate limit for {action} exceeded; retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )
