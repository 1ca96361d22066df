"""Execute once, send to all: live subscriptions are grouped by (document,
variables, role class, language). A group runs GraphQL once per event, turns
the result into JSON once, and every member gets that text with its own
operation id spliced in, through its socket's outbox (api/outbox.py)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections import OrderedDict
from collections.abc import Callable, Coroutine, Hashable
from inspect import isawaitable
from typing import TYPE_CHECKING, Any

from graphql import DocumentNode, execute, parse
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import Operation

from api.direct_frames import text_frame
from api.outbox import Member
from events import store
from events.application.checkpoint import SharedRead
from events.feed import Subscriber

if TYPE_CHECKING:
    from strawberry import Schema

    from api.context import Context
    from api.services import Services

log = logging.getLogger("mailreg.fanout")

STRIDE = 200  # members served between two turns of the event loop


def frame(operation_id: str, payload: str) -> str:
    """A `next` message as Strawberry's encoder writes it, around a payload already in JSON."""
    return '{"id":' + json.dumps(operation_id) + ',"type":"next","payload":' + payload + "}"


def encode(value: Any) -> str:
    """JSON as Strawberry's view encodes it."""
    return json.dumps(value, separators=(",", ":"))


class Group:
    """The subscriptions that share one document, variables, role class and
    language, and so receive the same payload for each event."""

    def __init__(
        self, fanout: Fanout, key: Hashable, document: DocumentNode, operation: Operation[Any, Any], kept: int
    ) -> None:
        self.fanout = fanout
        self.kept = kept
        self.key = key
        self.document = document
        self.variables = operation.variables
        self.operation_name = operation.operation_name
        self.members: set[Member] = set()  # live: each event goes to these
        self.everyone: set[Member] = set()  # live or still catching up; the group ends with the last
        self.payloads: OrderedDict[Hashable, str | None] = OrderedDict()
        self.task: asyncio.Task[None] | None = None
        self.subscriber: Subscriber | None = None

    def execute(self, root: Any, context: Context) -> Any:
        """The group's document run against `root`, as Strawberry runs a subscription's event."""
        return execute(
            self.fanout.schema._schema,
            self.document,
            root_value=root,
            context_value=context,
            variable_values=self.variables,
            operation_name=self.operation_name,
            executor_class=self.fanout.schema.execution_context_class,
        )

    async def payload(self, key: Hashable, root: Callable[[], Any], context: Context) -> str | None:
        """The JSON `next` payload for `root` (kept under `key`), or None when
        executing it gave errors: those are masked per subscriber (their
        messages name each one's request id)."""
        if key in self.payloads:
            self.payloads.move_to_end(key)
            return self.payloads[key]
        result = self.execute(root(), context)
        if isawaitable(result):
            result = await result
        text = None if result.errors else encode({"data": result.data})
        self.payloads[key] = text
        if len(self.payloads) > self.kept:
            self.payloads.popitem(last=False)
        return text

    async def send(self, members: list[Member], payload: str | None, root: Callable[[], Any]) -> None:
        frames: dict[str, tuple[str, bytes]] = {}
        for count, member in enumerate(members, start=1):
            if count % STRIDE == 0:
                # Thousands of writes in one go would keep every request of this
                # process (the writer's mutations too) waiting for the last one.
                await asyncio.sleep(0)
            if payload is None:
                text = frame(member.id, await self.fanout.alone(self, member, root()))
                member.send(text, text_frame(text))
                continue
            framed = frames.get(member.id)
            if framed is None:
                text = frame(member.id, payload)
                framed = frames[member.id] = (text, text_frame(text))
            member.send(*framed)

    def leave(self, member: Member) -> None:
        """Take a member out; the last one out closes the group."""
        self.members.discard(member)
        self.everyone.discard(member)
        if not self.everyone:
            self.close()

    def close(self) -> None:
        """Stop following the feed; a later subscriber of the same key starts a new group."""
        if self.fanout.groups.get(self.key) is self:
            del self.fanout.groups[self.key]
        if self.task is not None:
            self.task.cancel()
        if self.subscriber is not None:
            self.fanout.services.feed.unsubscribe(self.subscriber)

    def overflowed(self) -> None:
        """The group fell behind the feed: every member is closed with 4008 and resumes with `after`."""
        for member in list(self.everyone):
            member.fall_behind()
        self.close()

    def fail(self, error: BaseException) -> None:
        """End every subscription of the group with `error` (each masked under its own request id)."""
        for member in list(self.everyone):
            member.end(error)
        self.close()


class Fanout:
    """The app's live groups."""

    def __init__(self, services: Services, schema: Schema) -> None:
        self.services = services
        self.schema = schema
        self.groups: dict[Hashable, Group] = {}
        # Thousands of clients subscribing at once need one query, not one each.
        self.log_end = SharedRead(self._log_end)

    async def _log_end(self) -> int:
        async with self.services.engine.connect() as conn:
            return await store.last_position(conn)

    def join(
        self, operation: Operation[Any, Any], member: Member, start: Callable[[Group], None], *, kept: int
    ) -> Group:
        """The group of this operation (made and started when it is the first), with the member in it."""
        context = member.context
        principal = context.principal
        role = "admin" if principal is not None and principal.is_admin else "user"
        variables = json.dumps(operation.variables or {}, sort_keys=True, default=str)
        key = (operation.query, operation.operation_name, variables, role, context.lang)
        group = self.groups.get(key)
        if group is None:
            group = self.groups[key] = Group(self, key, parse(operation.query), operation, kept)
            start(group)
        group.everyone.add(member)
        return group

    def spawn(self, group: Group, work: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        """Run a group's loop; should it fail, its members end with the error (masked for them)."""

        def failed(task: asyncio.Task[None]) -> None:
            error = None if task.cancelled() else task.exception()
            if error is None:
                return
            log.error("fan-out group failed", exc_info=error)
            group.fail(error)

        task = asyncio.create_task(work, name="fanout-group")
        task.add_done_callback(failed)
        return task

    async def alone(self, group: Group, member: Member, root: Any) -> str:
        """One member's payload, executed with its own context so that masked
        errors name its request id (the rare path: the shared one had errors)."""
        from api.schema import mask_errors  # the schema module imports the resolvers, which import us

        result = group.execute(root, member.context)
        if isawaitable(result):
            result = await result
        payload: dict[str, Any] = {"data": result.data}
        if result.errors:
            payload["errors"] = [e.formatted for e in mask_errors(result.errors, member.context)]
        return encode(payload)


async def until_ended(member: Member) -> None:
    """Wait for the member's end; raise the error it ended with, if any."""
    error = await member.ended
    if error is not None:
        raise error
