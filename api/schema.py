"""Schema composition, abuse limits and error masking."""

from __future__ import annotations

import logging

import strawberry
from graphql import ASTValidationRule, GraphQLError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.types import ExecutionContext

from api.event_types import EVENT_TYPES
from api.fast_completion import HistoryExecutionContext
from api.history import HistoryQueries
from api.i18n import LocalizeErrors
from api.limits import MAX_ALIASES, MAX_TOKENS, DepthLimit
from api.mutations import Mutation as ServerMutations
from api.observer import OperationObserver
from api.queries import ServerQueries
from api.subscriptions import Subscription
from api.verification.redaction import RedactCredentials
from api.verification.schema import VerificationMutation

log = logging.getLogger("mailreg.graphql")


@strawberry.type(description="Reads: the current list, the drop-down, the audit log and the list as it was.")
class Query(ServerQueries, HistoryQueries):
    """Every read root field, composed from the modules that resolve them."""


@strawberry.type(
    description="Changes to the list, each appending events to the log (or nothing when it fails), "
    "and the check of a server against the real mail servers, which appends nothing."
)
class Mutation(ServerMutations, VerificationMutation):
    """Every write root field, composed from the modules that resolve them."""


def unexpected(error: GraphQLError) -> bool:
    """An error that did not come from us describing the request or its rights."""
    original = error.original_error
    return original is not None and not isinstance(original, GraphQLError)


def database_unavailable(error: BaseException | None) -> bool:
    """Lost or refused connections, a server starting up or shutting down, and
    timeouts, as opposed to bugs."""
    if isinstance(error, (OperationalError, InterfaceError, SATimeoutError, OSError, TimeoutError)):
        return True
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return True
    seen = 0
    while error is not None and seen < 5:
        # SQLSTATE classes 08 (connection exception) and 57 (operator intervention,
        # e.g. "the database system is shutting down").
        if str(getattr(error, "sqlstate", "") or "")[:2] in ("08", "57"):
            return True
        error = error.__cause__ or getattr(error, "orig", None)
        seen += 1
    return False


def anonymised(error: GraphQLError, request_id: str) -> GraphQLError:
    """The generic stand-in for an unexpected error, naming the request id."""
    masked = GraphQLError(
        message="", nodes=error.nodes, source=error.source, positions=error.positions, path=error.path
    )
    if database_unavailable(error.original_error):
        masked.message = f"The database is unavailable; try again shortly (request id {request_id})."
        masked.extensions = {"code": "SERVICE_UNAVAILABLE", "requestId": request_id}
    else:
        masked.message = f"Internal server error (request id {request_id})."
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR", "requestId": request_id}
    return masked


class MaskUnexpectedErrors(MaskErrors):
    """Unexpected errors become a generic message naming the request id; the
    log keeps the detail under the same id."""

    def __init__(self) -> None:
        super().__init__(should_mask_error=unexpected)

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        return anonymised(error, getattr(self.execution_context.context, "request_id", ""))


def mask_errors(errors: list[GraphQLError], context: object) -> list[GraphQLError]:
    """Errors of an execution outside Strawberry's pipeline, logged and masked as
    MailregSchema and MaskUnexpectedErrors would."""
    request_id = getattr(context, "request_id", "")
    for error in errors:
        if unexpected(error):
            log.error(
                "unexpected error in request %s",
                request_id,
                exc_info=error.original_error,
                extra={"request_id": request_id},
            )
    return [anonymised(e, request_id) if unexpected(e) else e for e in errors]


class MailregSchema(strawberry.Schema):
    """The schema that logs every unexpected error with its request id."""

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        """Log unexpected errors with their stack, under the request id the client sees."""
        request_id = getattr(execution_context.context, "request_id", "") if execution_context else ""
        for error in errors:
            if unexpected(error):
                log.error(
                    "unexpected error in request %s",
                    request_id,
                    exc_info=error.original_error,
                    extra={"request_id": request_id},
                )


# Built once: the validation cache keys on the rule classes, and strawberry's
# limiter makes a new class per instance.
VALIDATION_RULES: list[type[ASTValidationRule]] = [
    DepthLimit,
    *MaxAliasesLimiter(max_alias_count=MAX_ALIASES).validation_rules,
]

schema = MailregSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=EVENT_TYPES,
    execution_context_class=HistoryExecutionContext,
    extensions=[
        # First, so that it runs last on the way out: it translates the masked messages too.
        LocalizeErrors,
        lambda: AddValidationRules(VALIDATION_RULES),
        lambda: MaxTokensLimiter(max_token_count=MAX_TOKENS),
        # Parsing and validating the same document again costs more than running it.
        lambda: ParserCache(maxsize=256),
        lambda: ValidationCache(maxsize=256),
        MaskUnexpectedErrors,
        OperationObserver,
        RedactCredentials,
    ],
)


def sdl() -> str:
    """The schema in SDL, as schema.graphql must hold it."""
    return schema.as_str() + "\n"
