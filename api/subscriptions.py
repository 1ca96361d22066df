"""Live subscriptions over graphql-transport-ws, fed by the process's EventFeed
and sent through fan-out groups (api/fanout.py): GraphQL runs once per group
and event, not once per subscriber."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from api.context import Context, IsAdmin, IsSignedIn
from api.errors import bad_user_input
from api.event_types import DomainEvent, from_recorded
from api.fanout import Fanout, Group, until_ended
from api.live_handler import current_operation, outbox_of
from api.outbox import Member
from api.types import MailServerChoice, choices
from events import store
from events.application.history import parse_cursor
from events.feed import SubscriberOverflowError

CATCH_UP_BATCH = 500


async def _follow_events(group: Group) -> None:
    """Each event once for the group, to every live member that has not had it."""
    assert group.subscriber is not None
    while True:
        try:
            entries = await group.subscriber.wait()
        except SubscriberOverflowError:
            group.overflowed()
            return
        for entry in entries:
            members = [m for m in group.members if entry.position > m.last]
            if not members:
                continue
            for member in members:
                member.last = entry.position
            root = lambda entry=entry: from_recorded(entry)  # noqa: E731
            payload = await group.payload(entry.position, root, members[0].context)
            await group.send(members, payload, root)


async def _follow_choices(group: Group) -> None:
    """The choices to every member that has not seen them yet: at once to one
    that joins, and after each change."""
    assert group.subscriber is not None
    mail_servers = group.fanout.services.mail_servers
    while True:
        await group.subscriber.wait()
        try:
            current_list = await mail_servers.current()
        except Exception as error:  # e.g. the database is away: each subscriber gets it, masked
            group.fail(error)
            return
        current = tuple((s.id, s.code, s.name) for s in current_list.server_list.ordered())
        members = [m for m in group.members if m.shown != current]
        if not members:
            continue
        for member in members:
            member.shown = current
        root = lambda server_list=current_list.server_list: choices(server_list)  # noqa: E731
        payload = await group.payload(current, root, members[0].context)
        await group.send(members, payload, root)


async def _catch_up(group: Group, member: Member, fanout: Fanout, after: int) -> None:
    """Read from the log until caught up with the feed, then join the group's
    live members. The join follows the check with no await in between, so no
    event can slip between the catch-up and the live stream."""
    feed = fanout.services.feed
    member.last = after
    while member.last < feed.position:
        async with fanout.services.engine.connect() as conn:
            batch = await store.read(conn, after=member.last, limit=CATCH_UP_BATCH)
        if not batch:
            break
        for entry in batch:
            root = lambda entry=entry: from_recorded(entry)  # noqa: E731
            await group.send([member], await group.payload(entry.position, root, member.context), root)
            member.last = entry.position
        await member.drained()  # the client keeps up before more is read
        if member.gone:
            return
    group.members.add(member)


class Live(AsyncIterator[Any]):
    """What the two subscription fields return. Iterating it serves the
    subscription through its group, which sends the frames itself; it ends
    when the subscription does."""

    def __init__(self, info: Info[Context, Any], field: str, after: int = 0) -> None:
        self.context = info.context
        self.field = field
        self.after = after

    async def __anext__(self) -> Any:
        operation = current_operation()
        fanout = self.context.services.fanout
        feed = fanout.services.feed
        events = self.field == "mailServerEvents"

        def start(group: Group) -> None:
            group.subscriber = feed.subscribe(conflate=not events)
            group.task = fanout.spawn(group, _follow_events(group) if events else _follow_choices(group))

        # Events: recent payloads serve catch-ups; choices: only the newest list matters.
        member = Member(operation.id, outbox_of(operation), self.context)
        group = fanout.join(operation, member, start, kept=256 if events else 1)
        active = fanout.services.metrics.subscriptions.labels(self.field)
        active.inc()
        try:
            if events:
                await _catch_up(group, member, fanout, self.after)
            else:
                group.members.add(member)
                assert group.subscriber is not None
                group.subscriber.ready.set()  # the group shows the choices to the newcomer
            await until_ended(member)
        finally:
            active.dec()
            member.gone = True
            group.leave(member)
        raise StopAsyncIteration


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
        if after is None:
            # "From now on" means after the newest committed event, which the
            # feed may not have fanned out yet.
            return Live(info, "mailServerEvents", await info.context.services.fanout.log_end())
        parsed = parse_cursor(after)
        async with info.context.services.engine.connect() as conn:
            if parsed is None or not await store.exists(conn, parsed):
                raise bad_user_input(f"Unknown position {after!r}.")
        return Live(info, "mailServerEvents", parsed)

    @strawberry.subscription(
        permission_classes=[IsSignedIn],
        description="Any signed-in user: the current choices at once, then again after each change.",
    )
    async def mail_server_choices_changed(self, info: Info[Context, Any]) -> AsyncIterator[list[MailServerChoice]]:
        return Live(info, "mailServerChoicesChanged")
