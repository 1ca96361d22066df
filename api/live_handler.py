"""The graphql-transport-ws handler of /graphql: Strawberry's, with an outbox
per socket for fan-out frames, and the operation being served made known to
the subscription fields that run for it."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)

from api.outbox import Outbox

if TYPE_CHECKING:
    from api.context import Context

# The operation whose task is running: set by LiveHandler for each subscribe.
OPERATION: ContextVar[Operation[Any, Any] | None] = ContextVar("mailreg_operation", default=None)


class LiveHandler(BaseGraphQLTransportWSHandler["Context", None]):
    """Strawberry's graphql-transport-ws handler, with one outbox per socket for
    the frames of grouped subscriptions."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # The view keeps the count of frames waiting in all its outboxes (for /metrics).
        self.outbox = Outbox(self.websocket.ws, self.view.frames_queued)  # type: ignore[attr-defined]

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Run the operation with itself as the current one (for Live, in api/subscriptions.py)."""
        OPERATION.set(operation)  # the task's own context: seen by this operation's resolvers only
        await super().run_operation(operation)

    async def shutdown(self) -> None:
        """Strawberry's shutdown, then nothing more for this socket's outbox."""
        await super().shutdown()
        self.outbox.stop()


def current_operation() -> Operation[Any, Any]:
    """The graphql-transport-ws operation being served; subscriptions exist only there."""
    operation = OPERATION.get()
    if operation is None:
        raise GraphQLError("Subscriptions are served over websockets (graphql-transport-ws) at /graphql.")
    return operation


def outbox_of(operation: Operation[Any, Any]) -> Outbox:
    """The outbox of the socket the operation came on."""
    handler = operation.handler
    assert isinstance(handler, LiveHandler)
    return handler.outbox
