"""The soak run's subscribers."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import websockets
from websockets.typing import Subprotocol

from bench.soak import documents
from bench.soak.cluster import Instance
from bench.soak.history import Clock, Recorder


class Subscriber:
    """One subscription on one instance, resubscribing after every disconnect;
    mailServerEvents resumes with `after` its last delivered position."""

    def __init__(
        self, name: str, instance: Instance, field_: str, bearer: str, recorder: Recorder, clock: Clock, after: int
    ) -> None:
        self.name = name
        self.instance = instance
        self.field = field_
        self.bearer = bearer
        self.recorder = recorder
        self.clock = clock
        self.last = after
        self.connections = 0
        self.ws: Any = None
        self.resubscribed = asyncio.Event()
        self.delivered_choices: Any = None

    def record(self, type_: str, **extra: Any) -> None:
        self.recorder.write(
            {"type": type_, "field": self.field, "connection": self.connections, "at": self.clock.now(), **extra}
        )

    async def run(self) -> None:
        """Until cancelled: the end of the run needs subscribers to catch up after the load stops."""
        while True:
            try:
                await self.connect_once()
            except (OSError, TimeoutError, websockets.WebSocketException, json.JSONDecodeError) as error:
                self.record("closed", reason=f"{type(error).__name__}: {str(error)[:100]}")
            self.ws = None
            await asyncio.sleep(0.2)

    async def connect_once(self) -> None:
        async with websockets.connect(
            self.instance.ws_url,
            subprotocols=[Subprotocol("graphql-transport-ws")],
            open_timeout=5,
            close_timeout=1,
            max_size=None,
        ) as ws:
            self.ws = ws
            await ws.send(
                json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {self.bearer}"}})
            )
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            if ack.get("type") != "connection_ack":
                self.record("closed", reason=f"no ack: {ack}")
                return
            self.connections += 1
            if self.field == "mailServerEvents":
                query, variables = documents.EVENTS_SUBSCRIPTION, {"after": str(self.last)}
                self.record("subscribe", after=str(self.last))
            else:
                query, variables = documents.CHOICES_SUBSCRIPTION, {}
                self.record("subscribe")
            await ws.send(
                json.dumps({"id": "1", "type": "subscribe", "payload": {"query": query, "variables": variables}})
            )
            self.resubscribed.set()
            async for raw in ws:
                message = json.loads(raw)
                kind = message.get("type")
                if kind == "ping":
                    await ws.send(json.dumps({"type": "pong"}))
                elif kind == "next" and not message["payload"].get("errors"):
                    data = message["payload"]["data"][self.field]
                    if self.field == "mailServerEvents":
                        self.last = int(data["position"])
                    else:
                        self.delivered_choices = data
                    self.record("next", data=data)
                else:
                    self.record("closed", reason=str(message)[:200])
                    return
            self.record("closed", reason=f"closed {ws.close_code}")

    def drop(self) -> bool:
        """Cut the TCP connection without a closing handshake, as a network failure would."""
        ws = self.ws
        if ws is None:
            return False
        self.resubscribed.clear()
        ws.transport.abort()
        return True
