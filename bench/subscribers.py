"""Many graphql-transport-ws subscribers in one process (a child of the bench,
so its work does not share the bench's event loop with the writer).

    python -m bench.subscribers --url WS [--url WS ...] --count N --first I --token T --out FILE

A lean client: each subscriber is a bare asyncio.Protocol that speaks just
enough websocket (RFC 6455 frames, no compression) and graphql-transport-ws to
subscribe, answer pings and pick the position out of each `next` message with
one regular expression, so that 10,000 of them cost far less CPU than the
servers they measure. Client i connects to URL i % len(urls) (i counts from
--first, so that several processes split one set). Protocol with the parent,
one line each way:
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
import base64
import json
import os
import re
import sys
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import uvloop

from bench.infra import raise_nofile

SUBSCRIPTION = "subscription { mailServerEvents { position } }"
POSITION = re.compile(rb'"type":"next".*?"position":"(\d+)"')
CONNECT_BATCH = 200


def masked_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame; the all-zero mask key leaves the payload as it is."""
    size = len(payload)
    if size < 126:
        header = bytes([0x80 | opcode, 0x80 | size])
    elif size < 65536:
        header = bytes([0x80 | opcode, 0x80 | 126]) + size.to_bytes(2, "big")
    else:
        header = bytes([0x80 | opcode, 0x80 | 127]) + size.to_bytes(8, "big")
    return header + b"\0\0\0\0" + payload


def text(message: dict[str, Any]) -> bytes:
    return masked_frame(0x1, json.dumps(message).encode())


class Client(asyncio.Protocol):
    def __init__(self, index: int, url_index: int, url: str, token: str, stats: Stats) -> None:
        self.index, self.url_index, self.stats = index, url_index, stats
        self.parts = urlsplit(url)
        self.token = token
        self.buffer = bytearray()
        self.upgraded = False
        self.acked: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: Any = None
        self.error = ""
        self.synced = False
        self.recording = False
        self.last = 0
        self.positions: list[int] = []
        self.times: list[float] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are no asyncio.Transport subclass
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            f"GET {self.parts.path or '/'} HTTP/1.1\r\nHost: {self.parts.netloc}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n".encode()
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self.error = self.error or f"connection lost: {exc}"
        if not self.acked.done():
            self.acked.set_exception(ConnectionError(self.error))

    def data_received(self, data: bytes) -> None:
        received = time.time()
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.fail(f"upgrade refused: {bytes(buffer[:60])!r}")
                return
            del buffer[: end + 4]
            self.upgraded = True
            self.send(text({"type": "connection_init", "payload": {"authorization": f"Bearer {self.token}"}}))
        while len(buffer) >= 2:
            opcode, size, start = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if size == 126:
                if len(buffer) < 4:
                    return
                size, start = int.from_bytes(buffer[2:4], "big"), 4
            elif size == 127:
                if len(buffer) < 10:
                    return
                size, start = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < start + size:
                return
            payload = bytes(buffer[start : start + size])
            del buffer[: start + size]
            self.frame(opcode, payload, received)

    def frame(self, opcode: int, payload: bytes, received: float) -> None:
        if opcode == 0x9:  # websocket ping
            self.send(masked_frame(0xA, payload))
        elif opcode == 0x8:
            self.fail(f"closed {int.from_bytes(payload[:2], 'big') if payload else ''} {payload[2:80]!r}")
        elif opcode == 0x1:
            match = POSITION.search(payload)
            if match is not None:
                position = int(match[1])
                if self.recording:
                    self.positions.append(position)
                    self.times.append(received)
                self.last = max(self.last, position)
                if not self.synced:
                    self.synced = True
                    self.stats.synced += 1
            elif b'"connection_ack"' in payload and not self.acked.done():
                self.send(text({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}))
                self.acked.set_result(None)
            elif b'"type":"ping"' in payload:
                self.send(text({"type": "pong"}))
            elif b'"error"' in payload or b'"complete"' in payload:
                self.fail(payload[:300].decode(errors="replace"))

    def send(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def fail(self, error: str) -> None:
        self.error = self.error or error
        if self.transport is not None:
            self.transport.close()


class Stats:
    synced = 0


async def open_client(client: Client) -> None:
    loop = asyncio.get_running_loop()
    host, port = client.parts.hostname or "127.0.0.1", client.parts.port or 80
    await asyncio.wait_for(loop.create_connection(lambda: client, host, port), 60)
    await asyncio.wait_for(client.acked, 60)


async def until(check: Callable[[], bool], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        if check() or time.monotonic() >= deadline:
            return
        await asyncio.sleep(0.05)


def write_report(path: str, report: dict[str, Any]) -> None:
    with open(path, "w") as handle:
        json.dump(report, handle)


async def run(urls: list[str], count: int, first: int, token: str, out: str) -> None:
    raise_nofile()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    stats = Stats()
    indexes = range(first, first + count)
    clients = [Client(i, i % len(urls), urls[i % len(urls)], token, stats) for i in indexes]
    failed = 0
    for start in range(0, count, CONNECT_BATCH):
        batch = clients[start : start + CONNECT_BATCH]
        results = await asyncio.gather(*(open_client(c) for c in batch), return_exceptions=True)
        for client, outcome in zip(batch, results, strict=True):
            if isinstance(outcome, BaseException):
                client.error = f"connect: {type(outcome).__name__}: {outcome}"
                failed += 1
    live = [c for c in clients if not c.error]
    print(f"CONNECTED {len(live)} {failed}", flush=True)

    await until(lambda: stats.synced >= len(live), 120)
    for client in live:
        client.recording = True
    print(f"SYNCED {stats.synced}", flush=True)

    line = (await reader.readline()).decode().split()
    target, drain = (int(line[1]), float(line[2])) if line and line[0] == "STOP" else (0, 0.0)
    await until(lambda: all(c.last >= target or c.error for c in live), drain)
    report = {
        "urls": urls,
        "clients": [
            {"url": c.url_index, "error": c.error, "positions": c.positions, "times": c.times} for c in clients
        ],
    }
    write_report(out, report)
    print("DRAINED", flush=True)
    for client in clients:
        if client.transport is not None:
            client.transport.close()
    await asyncio.sleep(0.5)
    print("DONE", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", action="append", required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--first", type=int, default=0)
    parser.add_argument("--token", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    # uvloop (uvicorn's own loop, so installed with the server) costs the clients about half of asyncio's.
    uvloop.run(run(args.url, args.count, args.first, args.token, args.out))


if __name__ == "__main__":
    main()
