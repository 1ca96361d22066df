"""One HTTP client of the soak run: picks a live instance, sends, and records what
it sent, what it was told and when; nothing else decides what is true."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx

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
