"""The soak run's clients: writers, readers and subscribers. Each records what
it sent, what it was told and when, and nothing else decides what is true."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import websockets
from websockets.typing import Subprotocol

from bench.soak import documents
from bench.soak.cluster import Instance
from bench.soak.history import Clock, Json, Recorder

REJECTING_CODES = {"BAD_USER_INPUT", "GRAPHQL_VALIDATION_FAILED", "FORBIDDEN", "UNAUTHENTICATED"}
CODES = [f"c{n:03d}" for n in range(60)]
REQUEST_TIMEOUT = 20.0


@dataclass
class Known:
    """What the clients have recently been told, to aim their next requests
    (ids to change, versions to expect, positions to restore to)."""

    servers: dict[str, int] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)
    list_version: int | None = None
    positions: list[int] = field(default_factory=list)
    times: list[str] = field(default_factory=list)

    def saw_list(self, listed: Json) -> None:
        self.order = [s["id"] for s in listed["items"]]
        self.servers = {s["id"]: int(s["version"]) for s in listed["items"]}
        self.list_version = int(listed["version"])

    def saw_position(self, position: int, occurred_at: str | None = None) -> None:
        self.positions.append(position)
        del self.positions[:-200]
        if occurred_at is not None:
            self.times.append(occurred_at)
            del self.times[:-200]


@dataclass
class Outcome:
    outcome: str
    payload: Json | None = None
    codes: list[str] = field(default_factory=list)
    detail: str = ""


def classify(status: int, body: Json, name: str) -> Outcome:
    """ok: acknowledged; rejected: refused with a reason, nothing may remain;
    cut: no answer we can rely on, either outcome is allowed."""
    if status != 200:
        return Outcome("cut", detail=f"HTTP {status}")
    errors = body.get("errors") or []
    if errors:
        codes = [str((e.get("extensions") or {}).get("code")) for e in errors]
        rejected = all(code in REJECTING_CODES for code in codes)
        return Outcome("rejected" if rejected else "cut", codes=codes, detail=str(errors)[:200])
    payload = (body.get("data") or {}).get(name)
    if payload is None:
        return Outcome("cut", detail="no payload")
    if payload.get("errors"):
        return Outcome("rejected", payload=payload, codes=[e["code"] for e in payload["errors"]])
    return Outcome("ok", payload=payload)


class Client:
    """One HTTP client: picks a live instance, sends, records."""

    def __init__(
        self, name: str, instances: Sequence[Instance], recorder: Recorder, clock: Clock, rng: random.Random
    ) -> None:
        self.name = name
        self.instances = instances
        self.recorder = recorder
        self.clock = clock
        self.rng = rng
        self.http = httpx.AsyncClient(timeout=REQUEST_TIMEOUT, limits=httpx.Limits(max_connections=4))

    def pick(self) -> Instance:
        live = [i for i in self.instances if i.up] or list(self.instances)
        return self.rng.choice(live)

    async def mutate(
        self,
        op: str,
        input: Json | None,
        *,
        bearer: str,
        idem: str | None = None,
        bad: bool = False,
        instance: Instance | None = None,
        cut_after: float | None = None,
    ) -> Outcome:
        """Send one mutation and record it; `cut_after` abandons it after that many seconds."""
        instance = instance or self.pick()
        if idem is not None:
            input = {**(input or {}), "idempotencyKey": idem}
        rid = uuid.uuid4().hex
        body = {"query": documents.mutation(op), "variables": {"input": input}}
        headers = {"Authorization": f"Bearer {bearer}", "X-Request-ID": rid}
        sent = self.clock.now()
        try:
            request = self.http.post(f"{instance.url}/graphql", json=body, headers=headers)
            if cut_after is not None:
                response = await asyncio.wait_for(request, cut_after)
            else:
                response = await request
            outcome = classify(response.status_code, _json(response), op)
        except (httpx.HTTPError, TimeoutError) as error:
            outcome = Outcome("cut", detail=type(error).__name__)
        self.recorder.write(
            {
                "type": "mutation",
                "op": op,
                "rid": rid,
                "instance": instance.number,
                "input": input,
                "idem": idem,
                "bad": bad,
                "sent": sent,
                "received": self.clock.now(),
                "outcome": outcome.outcome,
                "payload": outcome.payload,
                "codes": outcome.codes,
                "detail": outcome.detail,
            }
        )
        return outcome

    async def read(self, op: str, query: str, variables: Json, *, bearer: str) -> Json | None:
        instance = self.pick()
        sent = self.clock.now()
        result, detail = None, ""
        try:
            response = await self.http.post(
                f"{instance.url}/graphql",
                json={"query": query, "variables": variables},
                headers={"Authorization": f"Bearer {bearer}"},
            )
            body = _json(response)
            if response.status_code == 200 and not body.get("errors"):
                result = body["data"][op]
            else:
                detail = f"HTTP {response.status_code} {str(body.get('errors'))[:200]}"
        except httpx.HTTPError as error:
            detail = type(error).__name__
        record = {"type": "read", "op": op, "instance": instance.number, "args": variables, "sent": sent}
        outcome = "ok" if result is not None else "error"
        self.recorder.write(
            {**record, "received": self.clock.now(), "outcome": outcome, "result": result, "detail": detail}
        )
        return result

    async def close(self) -> None:
        await self.http.aclose()
        self.recorder.close()


def _json(response: httpx.Response) -> Json:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


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


class Reader(Client):
    """mailServers, mailServerChoices, events pages and mailServersAsOf, at random."""

    def __init__(self, *args: Any, known: Known, admin: str, user: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.known = known
        self.admin = admin
        self.user = user

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.step()
            await asyncio.sleep(self.rng.uniform(0.02, 0.15))

    async def step(self) -> None:
        if not any(i.up for i in self.instances):
            await asyncio.sleep(0.3)
        rng, known = self.rng, self.known
        roll = rng.random()
        if roll < 0.4:
            listed = await self.read("mailServers", documents.SERVERS, {}, bearer=self.admin)
            if listed is not None:
                known.saw_list(listed)
        elif roll < 0.6:
            await self.read("mailServerChoices", documents.CHOICES, {}, bearer=self.user)
        elif roll < 0.85 or not known.positions:
            after = str(rng.choice(known.positions)) if known.positions and rng.random() < 0.8 else None
            page = await self.read(
                "events", documents.EVENTS, {"first": rng.randint(1, 100), "after": after}, bearer=self.admin
            )
            for edge in (page or {}).get("edges", [])[-5:]:
                known.saw_position(int(edge["node"]["position"]), edge["node"]["occurredAt"])
        elif rng.random() < 0.5 or not known.times:
            position = str(rng.choice(known.positions))
            await self.read("mailServersAsOf", documents.AS_OF, {"position": position}, bearer=self.admin)
        else:
            # An event's own time, or a moment just before or after it.
            moment = datetime.fromisoformat(rng.choice(known.times)) + timedelta(microseconds=rng.choice([-1, 0, 0, 1]))
            await self.read("mailServersAsOf", documents.AS_OF, {"at": moment.isoformat()}, bearer=self.admin)


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
