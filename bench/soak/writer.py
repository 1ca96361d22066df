"""The soak run's writers."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable
from typing import Any

from bench.soak.client import CODES, Client, Known, Outcome
from bench.soak.history import Json


def manual(rng: random.Random, code: str | None = None) -> Json:
    protocol = rng.choice(["POP3", "IMAP4"])
    return {
        "code": code or rng.choice(CODES),
        "name": f"Server {rng.randrange(1000)}",
        "outgoing": {"host": f"smtp{rng.randrange(9)}.example.com", "port": rng.choice([25, 465, 587])},
        "incoming": {"protocol": protocol, "host": "in.example.com", "port": 110 if protocol == "POP3" else 143},
    }


BAD_INPUTS: list[tuple[str, Callable[[random.Random], Json]]] = [
    ("addMailServer", lambda rng: {**manual(rng), "name": "  "}),
    ("addMailServer", lambda rng: {**manual(rng), "outgoing": {"host": "bad_host!", "port": 0}}),
    (
        "addMailServer",
        lambda rng: {
            **manual(rng),
            "incoming": {"protocol": "IMAP4", "host": "x.example", "port": 143, "useApop": True},
        },
    ),
]


class Writer(Client):
    """Random adds, changes, reorders, deletes, delete-alls and restores, with
    idempotency keys, deliberate retries and reuses, races and bad input."""

    def __init__(self, *args: Any, known: Known, admin: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known = known
        self.admin = admin

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            await asyncio.sleep(self.rng.uniform(0.02, 0.15))

    async def step(self) -> None:
        rng = self.rng
        roll = rng.random()
        if roll < 0.05:
            op, make = rng.choice(BAD_INPUTS)
            await self.mutate(op, make(rng), bearer=self.admin, bad=True)
            return
        if roll < 0.08 and len(self.known.servers) > 0:
            await self.race()
            return
        op, input = self.choose()
        idem = f"{self.name}-{uuid.uuid4().hex[:12]}" if rng.random() < 0.25 else None
        cut = rng.uniform(0.001, 0.03) if rng.random() < 0.04 else None
        if idem is not None and rng.random() < 0.15:
            # The same keyed request to two instances at once, as an impatient client would.
            live = [i for i in self.instances if i.up] or list(self.instances)
            twins = await asyncio.gather(
                *(
                    self.mutate(op, input, bearer=self.admin, idem=idem, instance=i)
                    for i in rng.sample(live, min(2, len(live)))
                )
            )
            for twin in twins:
                self.learn(op, twin)
            return
        outcome = await self.mutate(op, input, bearer=self.admin, idem=idem, cut_after=cut)
        self.learn(op, outcome)
        if outcome.outcome == "cut" and cut is None:
            # Most likely a fault: back off rather than spin while it lasts.
            await asyncio.sleep(rng.uniform(0.2, 0.6))
        if idem is None:
            return
        retry = rng.random()
        if retry < 0.4 or outcome.outcome == "cut":
            await asyncio.sleep(rng.uniform(0, 0.3))
            await self.mutate(op, input, bearer=self.admin, idem=idem)
        elif retry < 0.5:
            other_op, other = self.choose()
            await self.mutate(other_op, other, bearer=self.admin, idem=idem)

    def choose(self) -> tuple[str, Json | None]:
        rng, known = self.rng, self.known
        ids = list(known.servers)
        roll = rng.random()
        if roll < 0.35 or not ids:
            return "addMailServer", manual(rng)
        if roll < 0.70:
            server_id = rng.choice(ids)
            input: Json = {"id": server_id}
            field_roll = rng.random()
            if field_roll < 0.5:
                input["name"] = f"Renamed {rng.randrange(1000)}"
            elif field_roll < 0.8:
                input["outgoing"] = {"port": rng.choice([25, 465, 587, 2525])}
            else:
                input["code"] = rng.choice(CODES)
            if rng.random() < 0.5:
                input["expectedVersion"] = known.servers[server_id]
            return "changeMailServer", input
        if roll < 0.80:
            order = list(known.order)
            rng.shuffle(order)
            input = {"ids": order}
            if rng.random() < 0.5 and known.list_version is not None:
                input["expectedListVersion"] = known.list_version
            return "reorderMailServers", input
        if roll < 0.93:
            server_id = rng.choice(ids)
            input = {"id": server_id}
            if rng.random() < 0.3:
                input["expectedVersion"] = known.servers[server_id]
            return "deleteMailServer", input
        if roll < 0.95:
            return "deleteAllMailServers", {}
        if known.positions:
            return "restoreMailServers", {"asOf": str(rng.choice(known.positions))}
        return "addMailServer", manual(rng)

    def learn(self, op: str, outcome: Outcome) -> None:
        payload = outcome.payload or {}
        if outcome.outcome != "ok":
            return
        if payload.get("server"):
            self.known.servers[payload["server"]["id"]] = int(payload["server"]["version"])
            if payload["server"]["id"] not in self.known.order:
                self.known.order.append(payload["server"]["id"])
        if payload.get("list"):
            self.known.saw_list(payload["list"])
        if op == "deleteMailServer" and payload.get("deletedId"):
            self.known.servers.pop(payload["deletedId"], None)
            with contextlib.suppress(ValueError):
                self.known.order.remove(payload["deletedId"])

    async def race(self) -> None:
        """Two changes of one server at one expected version, to two instances at once."""
        server_id = self.rng.choice(list(self.known.servers))
        version = self.known.servers[server_id]
        targets = [i for i in self.instances if i.up] or list(self.instances)
        first, second = (self.rng.sample(targets, 2) if len(targets) > 1 else targets * 2)[:2]
        await asyncio.gather(
            *(
                self.mutate(
                    "changeMailServer",
                    {"id": server_id, "expectedVersion": version, "name": f"Race {n} {self.rng.randrange(1000)}"},
                    bearer=self.admin,
                    instance=target,
                )
                for n, target in enumerate((first, second))
            )
        )
