"""Every GraphQL operation counted, timed and logged once, whether it ran or came from the response cache."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

from graphql import FieldNode, GraphQLError, get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from api.auth import Principal
from api.metrics import Metrics

log = logging.getLogger("mailreg.graphql")


def record_operation(
    metrics: Metrics | None,
    *,
    operation: str,
    outcome: str,
    elapsed: float,
    request_id: str | None,
    principal: Principal | None,
    cached: bool = False,
    http: tuple[str, str, int] | None = None,
) -> None:
    """Count, time and log one operation under its root fields and outcome; with `http` (method,
    path, status), the line also stands for the request's access line, which is not written then."""
    if metrics is not None:
        count, latency = metrics.operation(operation, outcome)
        count.inc()
        latency.observe(elapsed)
    if not log.isEnabledFor(logging.INFO):
        return
    extra: dict[str, object] = {
        "request_id": request_id,
        "actor": principal.subject if principal else None,
        "operation": operation,
        "outcome": outcome,
        "duration_ms": round(elapsed * 1000, 2),
    }
    if http is not None:
        extra["method"], extra["path"], extra["status"] = http
    log.info("graphql %s %s%s", operation, outcome, " (cached)" if cached else "", extra=extra)


def _outcome(errors: list[GraphQLError]) -> str:
    codes = {(e.extensions or {}).get("code") for e in errors}
    if not errors:
        return "ok"
    if "UNAUTHENTICATED" in codes:
        return "unauthenticated"
    return "forbidden" if "FORBIDDEN" in codes else "error"


class OperationObserver(SchemaExtension):
    """Counts, times and logs every GraphQL operation that runs."""

    def on_operation(self) -> Iterator[None]:
        """Record the operation once it has run."""
        started = time.perf_counter()
        yield
        ctx = self.execution_context
        context = ctx.context
        errors = getattr(ctx.result, "errors", None) or ctx.pre_execution_errors or []
        record_operation(
            getattr(getattr(context, "services", None), "metrics", None),
            operation=_operation_label(ctx),
            outcome=_outcome(errors),
            elapsed=time.perf_counter() - started,
            request_id=getattr(context, "request_id", None),
            principal=getattr(context, "principal", None),
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
