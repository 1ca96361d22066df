"""The fault schedule: drawn from the seed alone, so that one seed always
strikes the same faults in the same order at the same moments."""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bench.soak import documents
from bench.soak.cluster import Instance
from bench.soak.history import Clock, Recorder
from bench.soak.subscriber import Subscriber
from bench.soak.writer import manual
from tests.e2e.private_pg import PrivateCluster

KINDS = {"kill-9": 2.0, "sigterm": 2.0, "postgres-stop": 1.5, "websocket-drop": 2.0, "cut-mid-body": 2.0}


@dataclass(frozen=True)
class Fault:
    at: float
    kind: str
    target: int
    pause: float

    def describe(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind, "target": self.target, "pause": self.pause}


def schedule(seed: int, duration: float, instances: int, gap: tuple[float, float] = (4.0, 10.0)) -> list[Fault]:
    """The faults of a run: when (seconds after the load starts), what, where, and for how long."""
    rng = random.Random(f"faults-{seed}")
    faults: list[Fault] = []
    at = rng.uniform(*gap)
    kinds, weights = list(KINDS), list(KINDS.values())
    while at < duration - 5:
        kind = rng.choices(kinds, weights)[0]
        faults.append(Fault(round(at, 3), kind, rng.randrange(instances * 2), round(rng.uniform(0.5, 4.0), 3)))
        at += rng.uniform(*gap)
    return faults


async def restart(instance: Instance, attempts: int = 3) -> None:
    """Launch a stopped instance and wait until it is ready, trying again if it dies on the way up."""
    for attempt in range(attempts):
        instance.launch()
        try:
            await instance.ready()
            return
        except RuntimeError:
            if attempt == attempts - 1:
                raise
            await instance.terminate()


class Injector:
    """Strikes each scheduled fault, lifts it, and times the recovery."""

    def __init__(
        self,
        cluster: PrivateCluster,
        instances: Sequence[Instance],
        subscribers: Sequence[Subscriber],
        recorder: Recorder,
        clock: Clock,
        admin: str,
    ) -> None:
        self.cluster = cluster
        self.instances = instances
        self.subscribers = subscribers
        self.recorder = recorder
        self.clock = clock
        self.admin = admin

    async def run(self, faults: Sequence[Fault], started: float, stop: asyncio.Event) -> None:
        for fault in faults:
            delay = started + fault.at - self.clock.now()
            if delay > 0:
                try:
                    await asyncio.wait_for(stop.wait(), delay)
                    return
                except TimeoutError:
                    pass
            if stop.is_set():
                return
            await self.strike(fault)

    async def strike(self, fault: Fault) -> None:
        instance = self.instances[fault.target % len(self.instances)]
        struck = self.clock.now()
        detail: dict[str, Any] = {}
        if fault.kind in ("kill-9", "sigterm"):
            if fault.kind == "kill-9":
                await instance.kill()
            else:
                detail["exit"] = await instance.terminate()
            await asyncio.sleep(fault.pause)
            lifted = self.clock.now()
            await restart(instance)
        elif fault.kind == "postgres-stop":
            for each in self.instances:
                each.up = False
            await asyncio.to_thread(self.cluster.stop)
            await asyncio.sleep(fault.pause)
            await asyncio.to_thread(self.cluster.start)
            lifted = self.clock.now()
            await asyncio.gather(*(each.ready() for each in self.instances))
        elif fault.kind == "websocket-drop":
            subscriber = self.subscribers[fault.target % len(self.subscribers)]
            dropped = subscriber.drop()
            lifted = self.clock.now()
            detail["subscriber"] = subscriber.name
            if dropped:
                await asyncio.wait_for(subscriber.resubscribed.wait(), 120)
            else:
                detail["note"] = "was not connected"
        else:
            lifted = self.clock.now()
            await self.cut_mid_body(instance, random.Random(f"{fault.at}"))
        recovered = self.clock.now() if fault.kind != "cut-mid-body" else None
        self.recorder.write(
            {
                "type": "fault",
                "kind": fault.kind,
                "instance": instance.number,
                "struck": struck,
                "lifted": lifted,
                "recovered": recovered,
                **detail,
            }
        )

    async def cut_mid_body(self, instance: Instance, rng: random.Random) -> None:
        """A mutation whose body stops halfway: the connection closes before the server has it all."""
        rid = uuid.uuid4().hex
        input = manual(rng)
        body = json.dumps({"query": documents.mutation("addMailServer"), "variables": {"input": input}}).encode()
        head = (
            f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{instance.port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {self.admin}\r\nX-Request-ID: {rid}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        sent = self.clock.now()
        detail = "closed after half the body"
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", instance.port), 5)
            writer.write(head + body[: rng.randrange(1, len(body) - 1)])
            await writer.drain()
            await asyncio.sleep(rng.uniform(0, 0.2))
            writer.transport.abort()
        except (OSError, TimeoutError) as error:
            detail = f"not connected: {type(error).__name__}"
        self.recorder.write(
            {
                "type": "mutation",
                "op": "addMailServer",
                "rid": rid,
                "instance": instance.number,
                "input": input,
                "idem": None,
                "bad": False,
                "sent": sent,
                "received": self.clock.now(),
                "outcome": "truncated",
                "payload": None,
                "codes": [],
                "detail": detail,
            }
        )
