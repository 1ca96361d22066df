"""Live subscriptions over graphql-transport-ws, fed by the process's EventFeed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from starlette.websockets import WebSocket
from strawberry.types import Info

from api.context import Context, IsAdmin, IsSignedIn
from api.errors import bad_user_input
from api.event_types import DomainEvent, from_recorded
from api.types import MailServerChoice, choices
from events import store
from events.application.history import parse_cursor
from events.feed import EventFeed, SubscriberOverflowError

CATCH_UP_BATCH = 500
OVERFLOW_CLOSE_CODE = 4008


def _overflow_error(last: int) -> GraphQLError:
    return GraphQLError(
        f'This subscriber fell too far behind and was dropped; subscribe again with after: "{last}".',
        extensions={"code": "SUBSCRIBER_TOO_SLOW", "resumeAfter": str(last)},
    )


async def _events(info: Info[Context, Any], feed: EventFeed, after: int) -> AsyncGenerator[DomainEvent, None]:
    websocket = info.context.request

    async def close() -> None:
        if isinstance(websocket, WebSocket):
            await websocket.close(code=OVERFLOW_CLOSE_CODE, reason="subscriber too slow; resume with after")

    engine = info.context.services.engine
    last = after
    subscriber = None
    active = info.context.services.metrics.subscriptions.labels("mailServerEvents")
    active.inc()
    try:
        # Read from the log until caught up with the feed, then join it.
        # The join happens with no await between the check and subscribe(),
        # so no event can slip between the catch-up and the live stream.
        while subscriber is None:
            async with engine.connect() as conn:
                batch = await store.read(conn, after=last, limit=CATCH_UP_BATCH)
            for entry in batch:
                yield from_recorded(entry)
                last = entry.position
            if len(batch) < CATCH_UP_BATCH and last >= feed.position:
                subscriber = feed.subscribe(on_overflow=close)
        while True:
            try:
                entries = await subscriber.wait()
            except SubscriberOverflowError:
                raise _overflow_error(last) from None
            for entry in entries:
                if entry.position > last:
                    yield from_recorded(entry)
                    last = entry.position
    finally:
        active.dec()
        if subscriber is not None:
            feed.unsubscribe(subscriber)


async def _choices(info: Info[Context, Any], feed: EventFeed) -> AsyncGenerator[list[MailServerChoice], None]:
    mail_servers = info.context.services.mail_servers
    subscriber = feed.subscribe(conflate=True)
    active = info.context.services.metrics.subscriptions.labels("mailServerChoicesChanged")
    active.inc()
    try:
        shown = None
        while True:
            current_list = await mail_servers.current()
            current = tuple((s.id, s.code, s.name) for s in current_list.server_list.ordered())
            if current != shown:
                shown = current
                yield choices(current_list.server_list)
            await subscriber.wait()
    finally:
        active.dec()
        feed.unsubscribe(subscriber)


@strawberry.type(description="Live updates over graphql-transport-ws at /graphql; connection_init carries the token.")
class Subscription:
    @strawberry.subscription(
        permission_classes=[IsAdmin],
        description="Admin: every event from now on. With after, first every event after that cursor from the log, "
        "then live ones: no gap, no duplicate, in order, also across API instances sharing one database.",
    )
    async def mail_server_events(
        self,
        info: Info[Context, Any],
        after: Annotated[
            str | None, strawberry.argument(description="A position cursor; events after it come first.")
        ] = None,
    ) -> AsyncIterator[DomainEvent]:
        async with info.context.services.engine.connect() as conn:
            if after is None:
                # "From now on" means after the newest committed event, which the
                # feed may not have fanned out yet.
                start = await store.last_position(conn)
            else:
                parsed = parse_cursor(after)
                if parsed is None or not await store.exists(conn, parsed):
                    raise bad_user_input(f"Unknown position {after!r}.")
                start = parsed
        return _events(info, info.context.services.feed, start)

    @strawberry.subscription(
        permission_classes=[IsSignedIn],
        description="Any signed-in user: the current choices at once, then again after each change.",
    )
    async def mail_server_choices_changed(self, info: Info[Context, Any]) -> AsyncIterator[list[MailServerChoice]]:
        return _choices(info, info.context.services.feed)
