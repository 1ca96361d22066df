"""HTTP load for the mutation rows with `wrk` (C, one thread, N keep-alive
connections): a Lua script gives every request a body of its own, checks every
reply and prints the figures as JSON. The load generator costs the shared cores
far less than the server it measures, which a Python client could not promise."""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.infra import Process
from bench.reads_wrk import run_wrk

_SCRIPT = """
local ids = {%(ids)s}
local counter = 0
bad = 0
local threads = {}
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer %(token)s"

function setup(thread)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local id = ids[(counter %% #ids) + 1]
  local body = '{"query":"mutation($id: ID!, $name: String!) { changeMailServer(input: {id: $id, name: $name}) ' ..
    '{ server { version } errors { code } } }","variables":{"id":"' .. id .. '","name":"wrk ' .. counter .. '"}}'
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 or not string.find(body, '"errors":[]', 1, true) then
    bad = bad + 1
  end
end

function done(summary, latency, requests)
  local bad_total = 0
  for _, thread in ipairs(threads) do
    bad_total = bad_total + thread:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "duration_us": %%d, "bad": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "max_us": %%d}\\n',
    summary.requests, summary.duration, bad_total, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


@dataclass
class WrkResult:
    requests: int
    seconds: float
    bad: int
    p50_ms: float
    p99_ms: float
    server_cpu: float

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds > 0 else math.nan

    @property
    def server_cpu_ms_per_request(self) -> float:
        return self.server_cpu / self.requests * 1000 if self.requests else math.nan


async def change_mutations(
    url: str, token: str, server_ids: list[str], *, connections: int, duration: float, warmup: float, server: Process
) -> WrkResult:
    """changeMailServer with a new name per request, round-robin over `server_ids`."""
    with tempfile.TemporaryDirectory(prefix="mailreg-wrk-") as folder:
        script = Path(folder) / "change.lua"
        script.write_text(_SCRIPT % {"ids": ", ".join(f'"{i}"' for i in server_ids), "token": token})
        await run_wrk(url, script, 1, connections, warmup)
        cpu0 = server.cpu_seconds()
        figures, _ = await run_wrk(url, script, 1, connections, duration)
        cpu = server.cpu_seconds() - cpu0
    if figures["socket_errors"]:
        raise RuntimeError(f"wrk: {figures['socket_errors']} socket errors")
    return WrkResult(
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        bad=figures["bad"],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu=cpu,
    )
