"""A script's import: one client adds N servers over HTTP, one request after
another, then reads the whole list back."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import httpx

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

    @property
    def server_cpu_ms_per_add(self) -> float:
        return self.server_cpu / self.added * 1000 if self.added else float("nan")


def _input(prefix: str, n: int) -> dict[str, object]:
    return {
        "code": f"{prefix}-{n:05d}",
        "name": f"Imported server {n}",
        "outgoing": {"host": f"smtp{n}.import.example.com", "port": 587, "encryption": "STARTTLS"},
        "incoming": {"protocol": "IMAP4", "host": f"imap{n}.import.example.com", "port": 993, "useTls": True},
    }


async def add_then_list(url: str, token: str, count: int, server: Process) -> ImportResult:
    """`count` addMailServer mutations in sequence on one keep-alive connection,
    then one mailServers query; every add must succeed and the list hold them all."""
    prefix = f"imp-{uuid.uuid4().hex[:8]}"
    headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    async with httpx.AsyncClient(timeout=60) as client:
        cpu0 = server.cpu_seconds()
        started = time.perf_counter()
        for n in range(count):
            body = json.dumps({"query": ADD_MUTATION, "variables": {"input": _input(prefix, n)}})
            response = await client.post(url, content=body, headers=headers)
            payload = response.json()
            if response.status_code != 200 or "errors" in payload or payload["data"]["addMailServer"]["errors"]:
                raise RuntimeError(f"add {n} failed: HTTP {response.status_code} {response.text[:300]}")
        added_at = time.perf_counter()
        response = await client.post(url, content=json.dumps({"query": LIST_QUERY}), headers=headers)
        finished = time.perf_counter()
        cpu = server.cpu_seconds() - cpu0
    items = response.json()["data"]["mailServers"]["items"]
    listed = sum(1 for item in items if item["code"].startswith(prefix))
    if listed != count:
        raise RuntimeError(f"mailServers lists {listed} of the {count} imported servers")
    return ImportResult(
        added=count, seconds=finished - started, add_seconds=added_at - started, listed=listed, server_cpu=cpu
    )
