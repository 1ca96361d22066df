"""One soak run: a private PostgreSQL cluster, `mailreg serve` instances on it,
writers, readers and subscribers on every instance while the fault schedule
strikes; then the end-of-run checks, the history on disk, and the checker."""

from __future__ import annotations

import asyncio
import os
import random
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from api.auth import issue
from bench.soak import documents
from bench.soak.check import Report, check
from bench.soak.client import Client, Known
from bench.soak.cluster import Instance
from bench.soak.faults import Injector, schedule
from bench.soak.history import Clock, History, Json, Recorder, write_lines
from bench.soak.reader import Reader
from bench.soak.subscriber import Subscriber
from bench.soak.writer import Writer, manual
from tests.e2e.private_pg import PrivateCluster, unavailable

SETTLE_WITHIN = 120.0
"""Seconds the end of a run waits for subscribers to catch up with the log."""


@dataclass
class Options:
    duration: float = 120.0
    seed: int = 0
    instances: int = 2
    writers: int = 4
    readers: int = 2
    workdir: Path | None = None


def log(clock: Clock | None, message: str) -> None:
    stamp = f"{clock.now():8.1f}s" if clock else time.strftime("%H:%M:%S")
    print(f"[soak {stamp}] {message}", flush=True)


async def soak(options: Options) -> tuple[Report, Path]:
    """Run, record, check; the report and the folder holding the history."""
    reason = unavailable()
    if reason:
        raise RuntimeError(f"no private PostgreSQL cluster: {reason}")
    workdir = options.workdir or Path(tempfile.mkdtemp(prefix="mailreg-soak-"))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "history").mkdir(exist_ok=True)
    cluster = PrivateCluster().init()
    instances: list[Instance] = []
    try:
        await asyncio.to_thread(cluster.start)
        url = await cluster.create_database("mailreg_soak")
        secret = secrets.token_urlsafe(48)
        instances = [
            Instance(number=n, database_url=url, secret=secret, workdir=workdir / f"serve-{n}")
            for n in range(options.instances)
        ]
        migrated = await asyncio.to_thread(instances[0].cli, "migrate")
        if migrated.returncode != 0:
            raise RuntimeError(f"mailreg migrate failed: {migrated.stderr}")
        for instance in instances:
            instance.launch()
        await asyncio.gather(*(i.ready() for i in instances))
        final = await _load(options, cluster, instances, secret, workdir)
    finally:
        for instance in instances:
            await instance.terminate()
        await asyncio.to_thread(cluster.destroy)
    final["load_average"] = {"start": final.get("load_start"), "end": list(os.getloadavg())}
    (workdir / "final.json").write_text(_dump(final))
    return check(History.load(workdir)), workdir


async def _load(
    options: Options, cluster: Any, instances: list[Instance], secret: str, workdir: Path
) -> dict[str, Any]:
    clock = Clock()
    admin, user = issue(secret, "soak-admin", ["admin"]), issue(secret, "soak-user", [])
    history = workdir / "history"
    known = Known()
    seed = options.seed
    load_start = list(os.getloadavg())

    setup = Client("setup", instances, Recorder(history / "setup.jsonl", "setup"), clock, random.Random(seed))
    for n in range(3):
        outcome = await setup.mutate("addMailServer", manual(setup.rng, f"seed{n}"), bearer=admin)
        if outcome.outcome != "ok":
            raise RuntimeError(f"the first servers could not be added: {outcome}")
    first = await setup.read("events", documents.EVENTS, {"first": 1, "after": None}, bearer=admin)
    assert first is not None
    origin = int(first["edges"][0]["node"]["position"])
    known.saw_position(origin)

    subscribers: list[Subscriber] = []
    for instance in instances:
        for field_, bearer in (("mailServerEvents", admin), ("mailServerChoicesChanged", user)):
            name = f"sub-{instance.number}-{'events' if field_ == 'mailServerEvents' else 'choices'}"
            recorder = Recorder(history / f"{name}.jsonl", name)
            subscribers.append(Subscriber(name, instance, field_, bearer, recorder, clock, origin))
    writers = [
        Writer(
            f"writer-{n}",
            instances,
            Recorder(history / f"writer-{n}.jsonl", f"writer-{n}"),
            clock,
            random.Random(f"{seed}-writer-{n}"),
            known=known,
            admin=admin,
        )
        for n in range(options.writers)
    ]
    readers = [
        Reader(
            f"reader-{n}",
            instances,
            Recorder(history / f"reader-{n}.jsonl", f"reader-{n}"),
            clock,
            random.Random(f"{seed}-reader-{n}"),
            known=known,
            admin=admin,
            user=user,
        )
        for n in range(options.readers)
    ]
    faults = schedule(seed, options.duration, len(instances))
    injector = Injector(cluster, instances, subscribers, Recorder(history / "faults.jsonl", "faults"), clock, admin)
    stop = asyncio.Event()
    sub_tasks = [asyncio.create_task(s.run()) for s in subscribers]
    started = clock.now()
    log(
        clock,
        f"seed {seed}: {len(faults)} faults scheduled over {options.duration:.0f}s; "
        f"{len(instances)} instances, {len(writers)} writers, {len(readers)} readers, {len(subscribers)} subscribers",
    )
    work = [asyncio.create_task(w.run(stop)) for w in writers] + [asyncio.create_task(r.run(stop)) for r in readers]
    fault_task = asyncio.create_task(injector.run(faults, started, stop))
    load_samples: list[float] = []
    # The machine is shared: the load it was under belongs with the figures.
    for _ in range(max(1, int(options.duration // 5))):
        await asyncio.sleep(options.duration / max(1, int(options.duration // 5)))
        load_samples.append(os.getloadavg()[0])
    stop.set()
    log(clock, "load stopped; letting the last fault recover")
    await asyncio.wait_for(fault_task, 300)
    await asyncio.wait_for(asyncio.gather(*work), 120)

    if not await asyncio.to_thread(cluster.running):
        await asyncio.to_thread(cluster.start)
    for instance in instances:
        if instance.popen is None or instance.popen.poll() is not None:
            instance.launch()
    await asyncio.gather(*(i.ready() for i in instances))
    final: dict[str, Any] = {
        "seed": seed,
        "duration": options.duration,
        "load_start": load_start,
        "load_samples": load_samples,
        "schedule": [f.describe() for f in faults],
    }
    async with httpx.AsyncClient(timeout=60, headers={"Authorization": f"Bearer {admin}"}) as http:
        events = await _whole_log(http, instances[0])
        end = int(events[-1]["position"]) if events else 0
        choices = await _graphql(http, instances[0], documents.CHOICES, "mailServerChoices")
        shown = [(c["id"], c["code"], c["name"]) for c in choices]
        log(clock, f"{len(events)} events in the log; waiting for every subscriber to reach {end}")
        deadline = time.monotonic() + SETTLE_WITHIN
        while time.monotonic() < deadline:
            behind = [s.name for s in subscribers if not _caught_up(s, end, shown)]
            if not behind:
                break
            await asyncio.sleep(0.5)
        for task in sub_tasks:
            task.cancel()
        await asyncio.gather(*sub_tasks, return_exceptions=True)
        final["final_lists"] = [await _graphql(http, i, documents.SERVERS, "mailServers") for i in instances]
        write_lines(workdir / "log.jsonl", events)
        for instance in instances:
            await instance.terminate()
        checked = await asyncio.to_thread(instances[0].cli, "check")
        final["check"] = {"exit": checked.returncode, "output": (checked.stdout + checked.stderr)[-4000:]}
        rebuilt = await asyncio.to_thread(instances[0].cli, "rebuild-projections")
        final["rebuild"] = {"exit": rebuilt.returncode, "output": (rebuilt.stdout + rebuilt.stderr)[-2000:]}
        final["before_rebuild"] = final["final_lists"][0]
        instances[0].launch()
        await instances[0].ready()
        final["after_rebuild"] = await _graphql(http, instances[0], documents.SERVERS, "mailServers")
    for client in (setup, *writers, *readers):
        await client.close()
    for subscriber in subscribers:
        subscriber.recorder.close()
    injector.recorder.close()
    final["elapsed"] = clock.now()
    log(clock, "run finished; checking the history")
    return final


def _caught_up(subscriber: Subscriber, end: int, shown: list[tuple[str, str, str]]) -> bool:
    if subscriber.field == "mailServerEvents":
        return subscriber.last >= end
    delivered = subscriber.delivered_choices or []
    return [(c["id"], c["code"], c["name"]) for c in delivered] == shown


async def _graphql(
    http: httpx.AsyncClient, instance: Instance, query: str, field_: str, variables: Json | None = None
) -> Any:
    response = await http.post(f"{instance.url}/graphql", json={"query": query, "variables": variables or {}})
    body = response.json()
    if response.status_code != 200 or body.get("errors"):
        raise RuntimeError(f"{field_} failed at the end of the run: {response.text[:500]}")
    return body["data"][field_]


async def _whole_log(http: httpx.AsyncClient, instance: Instance) -> list[Json]:
    nodes: list[Json] = []
    after = None
    while True:
        page = await _graphql(http, instance, documents.EVENTS, "events", {"first": 500, "after": after})
        nodes.extend(edge["node"] for edge in page["edges"])
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _dump(value: Any) -> str:
    import json

    return json.dumps(value, indent=1)
