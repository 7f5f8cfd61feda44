"""Prometheus metrics (prometheus-client).

Process-wide metrics live in the default registry and are recorded where the work happens
(HTTP middleware, the suggest domain function). Gauges that describe the database (jobs by state,
queue depth) are computed when ``/metrics`` is scraped, by a collector bound to one app's database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

REQUEST_SECONDS = Histogram(
    "bdlopt_http_request_duration_seconds",
    "HTTP request latency by route template, method and status code.",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
SUGGEST_SECONDS = Histogram(
    "bdlopt_suggest_duration_seconds",
    "Time a policy took to propose points, by surrogate.",
    ("surrogate",),
    buckets=(0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.0, 5.0, 10.0),
)
FIT_FAILURES = Counter(
    "bdlopt_model_fit_failures_total",
    "Suggestions that fell back to Sobol because the surrogate could not be fitted, by surrogate.",
    ("surrogate",),
)


class DatabaseGauges(Collector):
    """Jobs by state and queue depth, read from the database at scrape time.

    Args:
        counts: returns ``{state: count}`` of jobs (empty when there is no job table yet).
    """

    def __init__(self, counts: Callable[[], dict[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterable[GaugeMetricFamily]:
        counts = self._counts()
        by_state = GaugeMetricFamily("bdlopt_jobs", "Jobs in the database by state.", labels=["state"])
        for state, count in sorted(counts.items()):
            by_state.add_metric([state], count)
        yield by_state
        yield GaugeMetricFamily("bdlopt_job_queue_depth", "Jobs waiting for a worker.", value=counts.get("queued", 0))


def render(app_registry: CollectorRegistry | None = None) -> bytes:
    """The text exposition of the process metrics plus an app's own collectors."""
    from prometheus_client import REGISTRY

    body = generate_latest(REGISTRY)
    if app_registry is not None:
        body += generate_latest(app_registry)
    return body
