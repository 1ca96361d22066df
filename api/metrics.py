"""Prometheus metrics, one registry per app so that test apps do not collide."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from graphql import FieldNode, GraphQLError, get_operation_ast
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.requests import Request
from starlette.responses import Response
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from events.store import RecordedEvent

log = logging.getLogger("mailreg.graphql")


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
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

    def appended(self, recorded: list[RecordedEvent] | tuple[RecordedEvent, ...]) -> None:
        for entry in recorded:
            self.events.labels(entry.type).inc()

    async def endpoint(self, _request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)


class OperationObserver(SchemaExtension):
    """Counts, times and logs every GraphQL operation."""

    def on_operation(self) -> Iterator[None]:
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        context = ctx.context
        result = ctx.result
        errors = getattr(result, "errors", None) or ctx.pre_execution_errors or []
        operation = _operation_label(ctx)
        if errors:
            codes = {(e.extensions or {}).get("code") for e in errors}
            outcome = (
                "unauthenticated" if "UNAUTHENTICATED" in codes else ("forbidden" if "FORBIDDEN" in codes else "error")
            )
        else:
            outcome = "ok"
        elapsed = time.perf_counter() - started
        metrics = getattr(getattr(context, "services", None), "metrics", None)
        if metrics is not None:
            metrics.requests.labels(operation, outcome).inc()
            metrics.latency.labels(operation).observe(elapsed)
        principal = getattr(context, "principal", None)
        log.info(
            "graphql %s %s",
            operation,
            outcome,
            extra={
                "request_id": getattr(context, "request_id", None),
                "actor": principal.subject if principal else None,
                "operation": operation,
                "outcome": outcome,
                "duration_ms": round(elapsed * 1000, 2),
            },
        )


def _operation_label(ctx: ExecutionContext) -> str:
    """The operation's root fields that the schema knows (so the label set stays
    bounded), or 'invalid' for a document that names none."""
    if ctx.graphql_document is None:
        return "invalid"
    try:
        operation = get_operation_ast(ctx.graphql_document, ctx.operation_name)
    except GraphQLError:
        return "invalid"
    if operation is None:
        return "invalid"
    root = ctx.schema._schema.get_root_type(operation.operation)
    known = root.fields if root is not None else {}
    names = sorted(
        {s.name.value for s in operation.selection_set.selections if isinstance(s, FieldNode) and s.name.value in known}
    )
    return ",".join(names) or "invalid"
