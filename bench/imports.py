"""A script's import: one client adds N servers over HTTP, one request after
another, then reads the whole list back."""

from __future__ import annotations

import asyncio
import http.client
import json
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from bench.infra import Process

ADD_MUTATION = (
    "mutation($input: AddMailServerInput!) { addMailServer(input: $input) { server { id position version } "
    "errors { field code } } }"
)
LIST_QUERY = "{ mailServers { totalCount items { id code } } }"


@dataclass
class ImportResult:
    added: int
    seconds: float
    add_seconds: float
    listed: int
    server_cpu: float
    client_cpu: float

    @property
    def server_cpu_ms_per_add(self) -> float:
        return self.server_cpu / self.added * 1000 if self.added else float("nan")

    @property
    def client_cpu_ms_per_add(self) -> float:
        return self.client_cpu / self.added * 1000 if self.added else float("nan")


def _input(prefix: str, n: int) -> dict[str, object]:
    return {
        "code": f"{prefix}-{n:05d}",
        "name": f"Imported server {n}",
        "outgoing": {"host": f"smtp{n}.import.example.com", "port": 587, "encryption": "STARTTLS"},
        "incoming": {"protocol": "IMAP4", "host": f"imap{n}.import.example.com", "port": 993, "useTls": True},
    }


async def add_then_list(url: str, token: str, count: int, server: Process) -> ImportResult:
    """`count` addMailServer mutations in sequence on one keep-alive connection,
    then one mailServers query; every add must succeed and the list hold them all.

    The client is the standard library's http.client in a thread of its own, as
    a lean import script would be: httpx's async client spent about as much CPU
    per request as the server, which made this row measure the client."""
    return await asyncio.to_thread(_add_then_list, url, token, count, server)


def _add_then_list(url: str, token: str, count: int, server: Process) -> ImportResult:
    prefix = f"imp-{uuid.uuid4().hex[:8]}"
    target = urlsplit(url)
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    conn = http.client.HTTPConnection(target.hostname or "127.0.0.1", target.port, timeout=60)

    def post(document: str, variables: dict[str, object] | None = None) -> tuple[int, bytes]:
        conn.request("POST", target.path, body=json.dumps({"query": document, "variables": variables}), headers=headers)
        response = conn.getresponse()
        return response.status, response.read()

    try:
        cpu0, client0 = server.cpu_seconds(), time.thread_time()
        started = time.perf_counter()
        for n in range(count):
            status, body = post(ADD_MUTATION, {"input": _input(prefix, n)})
            payload = json.loads(body)
            if status != 200 or "errors" in payload or payload["data"]["addMailServer"]["errors"]:
                raise RuntimeError(f"add {n} failed: HTTP {status} {body[:300]!r}")
        added_at = time.perf_counter()
        status, body = post(LIST_QUERY)
        finished = time.perf_counter()
        cpu, client_cpu = server.cpu_seconds() - cpu0, time.thread_time() - client0
    finally:
        conn.close()
    if status != 200:
        raise RuntimeError(f"mailServers failed: HTTP {status} {body[:300]!r}")
    items = json.loads(body)["data"]["mailServers"]["items"]
    listed = sum(1 for item in items if item["code"].startswith(prefix))
    if listed != count:
        raise RuntimeError(f"mailServers lists {listed} of the {count} imported servers")
    return ImportResult(
        added=count,
        seconds=finished - started,
        add_seconds=added_at - started,
        listed=listed,
        server_cpu=cpu,
        client_cpu=client_cpu,
    )
