"""A token bucket in Redis, shared by every API process of a deployment.

The bucket (tokens, last refill time) of each principal and action is one Redis hash, updated by a
Lua script so that refill-and-take is atomic across processes, with Redis's clock as the only
clock. Hand-written because it is one short script on the Redis client we already depend on (via
Celery); a rate-limit library would add a dependency and a different algorithm than the in-process
:class:`service.api.rate_limit.TokenBucketLimiter`, whose semantics this one keeps.

When Redis cannot be reached the call is allowed (fail open) and a warning is logged at most once a
minute: a broken limiter must not take the API down.
"""

from __future__ import annotations

import logging
import time

import redis
from urllib.parse import urlsplit, urlunsplit

logger = logging.getLogger(__name__)

KEY_PREFIX = "bdlopt:rate"

# KEYS[1]: the bucket; ARGV: tokens per second, capacity. Returns the seconds to wait (0: allowed).
_TAKE_TOKEN = """
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) + tonumber(clock[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(capacity / rate * 1000) + 1000)
return tostring(wait)
"""


def redact(url: str) -> str:
    """The URL without its password (for logs)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


class RedisTokenBucketLimiter:
    """``rate_per_minute`` calls per key and ``action`` across processes, bursts up to ``burst``; a
    rate of 0 disables the limit."""

    def __init__(self, url: str, action: str, rate_per_minute: float, burst: int) -> None:
        self.action = action
        self.rate = rate_per_minute / 60.0
        self.capacity = float(burst)
        self._client = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
        self._script = self._client.register_script(_TAKE_TOKEN)
        self._warned_at = float("-inf")

    def acquire(self, key: str) -> float:
        """Take a token: 0.0 when allowed, else the seconds until one is available."""
        if self.rate <= 0:
            return 0.0
        try:
            return float(self._script(keys=[f"{KEY_PREFIX}:{self.action}:{key}"], args=[self.rate, self.capacity]))
        except redis.RedisError as error:
            now = time.monotonic()
            if now - self._warned_at > 60:
                self._warned_at = now
                logger.warning("rate limit store unreachable, %s calls are not limited: %s", self.action, error)
            return 0.0
