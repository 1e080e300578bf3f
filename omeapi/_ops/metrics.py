"""Prometheus metrics of one API process (``prometheus_client``, the ``metrics`` extra).

Requests by route and status, their latency, app lifecycle events (restarts, hot applies,
rollbacks, failures), failed authentications and the brake's refusals.  Each worker
process keeps its own counters (a scrape sees the worker that answers it); sum them per
instance in the query, or run one worker where exact totals matter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from omeapi._wire.request import ApiRequest, ApiResponse

if TYPE_CHECKING:
    from omeapi._state.restart import AppEvent

__all__ = ["PrometheusMetrics"]


#: Latency buckets in seconds: the API answers in tens of microseconds, restarts take longer.
_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.05, 0.25, 1.0, 5.0)


class PrometheusMetrics:
    """An observer counting requests, and a subscriber to the coordinator's app events.

    :meth:`render` gives the exposition text the metrics path answers with.
    """

    def __init__(self) -> None:
        try:
            from prometheus_client import CollectorRegistry, Counter, Histogram
        except ImportError:  # pragma: no cover - the extra is missing
            raise RuntimeError(
                "metrics need prometheus_client: pip install 'omeapi[metrics]'"
            ) from None
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "omeapi_requests",
            "API requests answered, by route and status.",
            ("route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "omeapi_request_duration_seconds",
            "Time to answer an API request inside omeapi, by route.",
            ("route",),
            buckets=_BUCKETS,
            registry=self.registry,
        )
        self.app_events = Counter(
            "omeapi_app_events",
            "App lifecycle events: restart, hot_apply, rollback, failed.",
            ("kind",),
            registry=self.registry,
        )
        self.auth_failures = Counter(
            "omeapi_auth_failures",
            "Requests refused for their credentials (401).",
            registry=self.registry,
        )
        self.brake_hits = Counter(
            "omeapi_auth_brake_hits",
            "Requests refused by the failed-login brake (429).",
            registry=self.registry,
        )

    def __call__(self, request: ApiRequest, response: ApiResponse, seconds: float) -> None:
        route = response.route or "-"
        status = response.status
        self.requests.labels(route, str(status)).inc()
        self.latency.labels(route).observe(seconds)
        if status == 401:
            self.auth_failures.inc()
        elif status == 429:
            self.brake_hits.inc()

    def on_app_event(self, event: AppEvent) -> None:
        """Count one :class:`~omeapi._state.restart.AppEvent` (subscribe this)."""
        self.app_events.labels(event.kind).inc()

    def render(self) -> bytes:
        """The current values in Prometheus' text exposition format."""
        from prometheus_client import generate_latest

        return generate_latest(self.registry)
