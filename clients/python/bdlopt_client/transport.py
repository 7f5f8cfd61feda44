"""How the SDK sends one API request: URL, auth header, retry policy and error mapping.

Retry rules (hand-written rather than an httpx transport's ``retries=``, which only covers connect
errors and knows nothing of idempotency or Retry-After):

* a request that was never sent (:data:`NEVER_SENT_ERRORS`: connection refused, DNS failure,
  connect timeout) is retried for every call: the server cannot have applied it;
* an ambiguous failure (:data:`AMBIGUOUS_ERRORS`: the connection broke or timed out after the
  request went out) and 502/503/504 are retried only for calls that are safe to repeat: GET, DELETE,
  heartbeat, and the writes the server makes idempotent (observe/fail/abandon of a trial id answer a
  repeat of an applied call with the same 200; suggest with a ``client_id`` re-offers the trials that
  client already holds). A ``suggest`` without client id or an outside observation is never repeated;
* 429 is retried for every call, waiting the server's Retry-After: the server rejected the request
  without processing it;
* retries wait with capped exponential backoff and stop after ``retries`` retries (``None``: no
  count limit) or once ``deadline_s`` seconds have passed since the first attempt, whichever is first;
  then the last error is raised as a typed exception.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any

import httpx

from .errors import BdloptConnectionError, BdloptError, error_from_response, parse_retry_after

logger = logging.getLogger("bdlopt_client")

#: httpx errors raised before the request reached the server: every call is sent again.
NEVER_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)
#: httpx errors after which the server may or may not have applied the request.
AMBIGUOUS_ERRORS: tuple[type[httpx.TransportError], ...] = (
    httpx.RemoteProtocolError,
    httpx.ReadError,
    httpx.WriteError,
    httpx.ReadTimeout,
    httpx.WriteTimeout,
)
#: Statuses of a proxy or server that is (re)starting: retried for calls safe to repeat.
UNAVAILABLE_STATUSES = (502, 503, 504)

USER_AGENT = "bdlopt-sdk/0.1"


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    """When and how long to wait before sending a failed request again.

    Attributes:
        retries: the most retries per call (a call makes at most ``retries + 1`` attempts); ``None``:
            no count limit, only ``deadline_s``.
        deadline_s: no retry starts later than this many seconds after the call's first attempt
            (long enough by default to ride out a server restart).
        backoff_base_s: the wait before the first retry when the server gives no Retry-After;
            it doubles on each further retry.
        backoff_max_s: the cap of that exponential wait.
        max_retry_after_s: a Retry-After longer than this is not waited for: the error is raised.
    """

    retries: int | None = 3
    deadline_s: float = 120.0
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.retries is not None and self.retries < 0:
            raise ValueError(f"retries must be >= 0, got {self.retries}")
        if self.deadline_s < 0:
            raise ValueError(f"deadline_s must be >= 0, got {self.deadline_s}")

    def allows(self, attempt: int, started: float, delay: float) -> bool:
        """Whether retry number ``attempt + 1`` may start after waiting ``delay`` s (``started``: monotonic)."""
        if self.retries is not None and attempt >= self.retries:
            return False
        return time.monotonic() + delay - started <= self.deadline_s

    def backoff(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0)."""
        return min(self.backoff_max_s, self.backoff_base_s * (2.0**attempt))

    def delay_after_response(self, response: httpx.Response, error: BdloptError, *, idempotent: bool,
                             attempt: int, started: float) -> float | None:
        """Seconds to wait before retrying after the error ``response``; ``None`` means raise ``error``."""
        status = response.status_code
        if not (status == 429 or (status in UNAVAILABLE_STATUSES and idempotent)):
            return None
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is None:
            delay = self.backoff(attempt)
        elif retry_after > self.max_retry_after_s:
            return None
        else:
            delay = retry_after
        return delay if self.allows(attempt, started, delay) else None


class ApiTransport:
    """Sends requests through an ``httpx.Client`` and returns 2xx responses or raises typed errors.

    Args:
        http: the client that performs the HTTP exchange (may be a starlette ``TestClient``).
        url_prefix: prepended to every path; ``""`` when ``http`` has its own ``base_url``.
        api_key: sent as ``Authorization: Bearer <api_key>`` when not ``None``.
        policy: the retry policy.
        owns_client: whether :meth:`close` closes ``http``.
    """

    def __init__(self, http: httpx.Client, *, url_prefix: str, api_key: str | None, policy: RetryPolicy,
                 owns_client: bool) -> None:
        self.http = http
        self.url_prefix = url_prefix.rstrip("/")
        self.policy = policy
        self.owns_client = owns_client
        self.headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if api_key:
            self.headers["Authorization"] = f"Bearer {api_key}"

    def request(self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None,
                idempotent: bool) -> httpx.Response:
        """Send ``method path`` and return the 2xx response, retrying as :class:`RetryPolicy` allows.

        Args:
            method: the HTTP method.
            path: the API path beginning with ``/`` (e.g. ``/v1/studies``).
            json: the JSON body, or ``None`` for no body.
            params: query parameters; entries whose value is ``None`` are left out.
            idempotent: whether repeating the request after an ambiguous failure or a 502/503/504 is safe
                (a request that was never sent is always repeated).

        Raises:
            BdloptConnectionError: the server could not be reached (after the allowed retries).
            BdloptError: the typed error of the final non-2xx response.
        """
        url = self.url_prefix + path
        query = {key: value for key, value in (params or {}).items() if value is not None}
        attempt = 0
        started = time.monotonic()
        while True:
            try:
                response = self.http.request(method, url, json=json, params=query or None, headers=self.headers)
            except (NEVER_SENT_ERRORS + AMBIGUOUS_ERRORS) as exc:
                never_sent = isinstance(exc, NEVER_SENT_ERRORS)
                delay = self.policy.backoff(attempt)
                if (never_sent or idempotent) and self.policy.allows(attempt, started, delay):
                    logger.warning("%s %s failed (%s); retry %d in %.2f s", method, url, exc, attempt + 1, delay)
                    time.sleep(delay)
                    attempt += 1
                    continue
                raise self._connection_error(method, url, exc, idempotent or never_sent, attempt) from exc
            except httpx.TransportError as exc:  # unsupported protocol, proxy errors: never retried
                raise self._connection_error(method, url, exc, idempotent, attempt) from exc
            if response.is_success:
                return response
            error = error_from_response(response)
            delay = self.policy.delay_after_response(response, error, idempotent=idempotent, attempt=attempt,
                                                     started=started)
            if delay is None:
                raise error
            logger.warning("%s %s answered %d; retry %d in %.2f s", method, url, response.status_code,
                           attempt + 1, delay)
            time.sleep(delay)
            attempt += 1

    def close(self) -> None:
        """Close the underlying httpx client if this transport created it."""
        if self.owns_client:
            self.http.close()

    @staticmethod
    def _connection_error(method: str, url: str, exc: Exception, idempotent: bool,
                          attempt: int) -> BdloptConnectionError:
        if idempotent:
            note = f"after {attempt} retries" if attempt else "not retried"
        else:
            note = "not retried: the request is not idempotent and may have been applied"
            note += f" ({attempt} retries before)" if attempt else ""
        message = f"{method} {url} failed: {type(exc).__name__}: {exc} ({note})"
        return BdloptConnectionError(message, code="connection_error")
