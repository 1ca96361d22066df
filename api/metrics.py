"""Prometheus metrics, one registry per app so that test apps do not collide."""

from __future__ import annotations

from prometheus_client import (
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response

from events.store import RecordedEvent


class Metrics:
    """The app's Prometheus metrics, in a registry of its own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._children: dict[tuple[str, str], tuple[Counter, Histogram]] = {}
        self._responses: dict[tuple[str, str], Counter] = {}
        # The standard process_*, python_gc_* and python_info series; they read process-wide facts.
        for collector in (PROCESS_COLLECTOR, GC_COLLECTOR, PLATFORM_COLLECTOR):
            self.registry.register(collector)
        self.responses = Counter(
            "mailreg_http_responses",
            "HTTP responses by route and status, those refused before GraphQL (400, 405, 413, 415, 503) included",
            ["path", "status"],
            registry=self.registry,
        )
        self.requests = Counter(
            "mailreg_graphql_requests",
            "GraphQL operations by name and outcome",
            ["operation", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "mailreg_graphql_request_duration_seconds",
            "GraphQL operation latency",
            ["operation"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )
        self.events = Counter("mailreg_events_appended", "Events appended by type", ["type"], registry=self.registry)
        self.user_errors = Counter(
            "mailreg_user_errors", "User errors returned by code", ["code"], registry=self.registry
        )
        self.subscriptions = Gauge(
            "mailreg_active_subscriptions", "Open GraphQL subscriptions", ["field"], registry=self.registry
        )
        self.frames_queued = Gauge(
            "mailreg_subscription_frames_queued",
            "Subscription messages waiting for slow websockets",
            registry=self.registry,
        )
        self.notification_lag = Histogram(
            "mailreg_notification_lag_seconds",
            "Commit to fan-out delay of the live feed",
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            registry=self.registry,
        )

    def operation(self, operation: str, outcome: str) -> tuple[Counter, Histogram]:
        """The request counter and latency histogram of one operation and outcome, looked up once:
        `labels` costs more than the observation itself on a read answered from the cache."""
        key = (operation, outcome)
        children = self._children.get(key)
        if children is None:
            children = self._children[key] = (self.requests.labels(operation, outcome), self.latency.labels(operation))
        return children

    def response(self, path: str, status: str) -> Counter:
        """The HTTP response counter of one route and status, looked up once."""
        child = self._responses.get((path, status))
        if child is None:
            child = self._responses[(path, status)] = self.responses.labels(path, status)
        return child

    def appended(self, recorded: list[RecordedEvent] | tuple[RecordedEvent, ...]) -> None:
        """Count the appended events by type."""
        for entry in recorded:
            self.events.labels(entry.type).inc()

    async def endpoint(self, _request: Request) -> Response:
        """The metrics in Prometheus text format."""
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
