"""Many graphql-transport-ws subscribers in one process (a child of the bench,
so its work does not share the bench's event loop with the writer).

    python -m bench.subscribers --url WS [--url WS ...] --count N --token T --out FILE

Clients are spread round-robin over the URLs and each subscribes to
SUBSCRIPTION. Protocol with the parent, one line each way:
  child  -> "CONNECTED <ok> <failed>"  when every client has subscribed
  child  -> "SYNCED <n>"               when n clients have received an event
                                       (the parent keeps writing until then)
  parent -> "STOP <position> <drain seconds>"
  child  -> "DRAINED"                  after every client has seen <position>
                                       (or the drain ran out) and FILE is written
  child  -> "DONE"                     when every connection is closed
FILE holds, per client, the URL index, an error if any, and the positions
received after the sync with their receive times (time.time(), the same
clock as the events' occurredAt)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from bench.infra import raise_nofile

SUBSCRIPTION = "subscription { mailServerEvents { position } }"
POSITION = re.compile(r'"position":"(\d+)"')
CONNECT_BATCH = 50


@dataclass
class Client:
    index: int
    url_index: int
    error: str = ""
    synced: bool = False
    recording: bool = False
    last: int = 0
    positions: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    seen: asyncio.Event = field(default_factory=asyncio.Event)
    ws: ClientConnection | None = None


async def open_client(client: Client, url: str, token: str) -> None:
    ws = await connect(
        url,
        subprotocols=["graphql-transport-ws"],
        compression=None,
        max_size=None,  # type: ignore[list-item]
        open_timeout=60,
        ping_interval=None,
        close_timeout=2,
    )
    client.ws = ws
    await ws.send(json.dumps({"type": "connection_init", "payload": {"authorization": f"Bearer {token}"}}))
    ack = json.loads(await asyncio.wait_for(ws.recv(), 30))
    if ack.get("type") != "connection_ack":
        raise RuntimeError(f"no connection_ack: {ack}")
    await ws.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))


async def listen(client: Client, synced: asyncio.Event, sync_count: list[int], total: int) -> None:
    ws = client.ws
    assert ws is not None
    try:
        async for message in ws:
            received = time.time()
            text = message if isinstance(message, str) else message.decode()
            if '"next"' in text:
                match = POSITION.search(text)
                if match is None:
                    continue
                position = int(match[1])
                if client.recording:
                    client.positions.append(position)
                    client.times.append(received)
                client.last = max(client.last, position)
                client.seen.set()
                if not client.synced:
                    client.synced = True
                    sync_count[0] += 1
                    if sync_count[0] >= total:
                        synced.set()
            elif '"ping"' in text:
                await ws.send('{"type":"pong"}')
            elif '"error"' in text or '"complete"' in text:
                client.error = client.error or text[:300]
                return
    except Exception as error:  # a dropped connection is a result, not a crash
        client.error = client.error or f"{type(error).__name__}: {error}"
    else:
        client.error = client.error or "connection closed"


def write_report(path: str, report: dict[str, Any]) -> None:
    with open(path, "w") as handle:
        json.dump(report, handle)


async def run(urls: list[str], count: int, token: str, out: str) -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    clients = [Client(i, i % len(urls)) for i in range(count)]
    failed = 0
    for start in range(0, count, CONNECT_BATCH):
        batch = clients[start : start + CONNECT_BATCH]
        results = await asyncio.gather(
            *(open_client(c, urls[c.url_index], token) for c in batch), return_exceptions=True
        )
        for client, outcome in zip(batch, results, strict=True):
            if isinstance(outcome, BaseException):
                client.error = f"connect: {type(outcome).__name__}: {outcome}"
                failed += 1
    live = [c for c in clients if not c.error]
    synced = asyncio.Event()
    sync_count = [0]
    listeners = [asyncio.create_task(listen(c, synced, sync_count, len(live))) for c in live]
    print(f"CONNECTED {len(live)} {failed}", flush=True)

    sync_deadline = time.monotonic() + 120
    while not synced.is_set() and time.monotonic() < sync_deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(synced.wait(), 1.0)
    for client in live:
        client.recording = True
    print(f"SYNCED {sync_count[0]}", flush=True)

    line = (await reader.readline()).decode().split()
    target, drain = (int(line[1]), float(line[2])) if line and line[0] == "STOP" else (0, 0.0)
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        if all(c.last >= target or c.error for c in live):
            break
        await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    report: dict[str, Any] = {
        "urls": urls,
        "clients": [
            {"url": c.url_index, "error": c.error, "positions": c.positions, "times": c.times} for c in clients
        ],
    }
    write_report(out, report)
    print("DRAINED", flush=True)
    await asyncio.gather(*(c.ws.close() for c in clients if c.ws is not None), return_exceptions=True)
    print("DONE", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    asyncio.run(run(args.url, args.count, args.token, args.out))


if __name__ == "__main__":
    main()
