"""Per-principal rate limits (token buckets) for expensive calls: suggest and job submission.

In-process: each API replica limits on its own, which bounds the load one replica takes. A
deployment with many replicas behind a load balancer should also limit at the edge.
"""

from __future__ import annotations

import math
import threading
import time


class TokenBucketLimiter:
    """``rate_per_minute`` calls per key, bursts up to ``burst``; 0 disables the limit."""

    def __init__(self, rate_per_minute: float, burst: int | None = None) -> None:
        self.rate = rate_per_minute / 60.0
        self.capacity = float(burst if burst is not None else max(1, int(rate_per_minute // 6) or 1))
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


def retry_after_header(seconds: float) -> str:
    """The ``Retry-After`` value (whole seconds, at least 1)."""
    return str(max(1, math.ceil(seconds)))


def enforce(request, principal_name: str, action: str) -> None:
    """Raise 429 (with ``Retry-After``) when ``principal_name`` is over its ``action`` budget.

    The limiters live in ``app.state.rate_limiters`` (``{action: TokenBucketLimiter}``).
    """
    from fastapi import HTTPException

    limiter = getattr(request.app.state, "rate_limiters", {}).get(action)
    if limiter is None:
        return
    wait = limiter.acquire(principal_name)
    if wait > 0:
        raise HTTPException(
            429, f"rate limit for {action} exceeded; retry in {retry_after_header(wait)} s",
            headers={"Retry-After": retry_after_header(wait)},
        )
