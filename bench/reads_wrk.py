"""HTTP load for the read rows with `wrk` (C, keep-alive connections). With `alternate`, a
Lua script makes every connection send a change to its own server and then a read, so every
read follows an acknowledged change, and checks every answer's body. Without it, wrk sends
the one read, prebuilt, and counts answers that are not 2xx: handing each 500 KB body to
Lua to search would make wrk, not the server, the bottleneck (it capped a plain app that
only answers bytes at a quarter of its speed); the bench checks those answers on the
server's side instead (mailreg's operation counters). The figures come back as JSON. wrk
costs the shared cores far less than the servers it drives, which the Python client
(bench/load.py) could not promise for 500 KB answers."""

from __future__ import annotations

import asyncio
import json
import math
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bench.infra import Process, log
from bench.live import CHANGE_MUTATION

_SCRIPT = """
local read_path, change_path = "%(read_path)s", "%(change_path)s"
local read_body = [==[%(read_body)s]==]
local ids = {%(ids)s}
local alternate, plain = %(alternate)s, %(plain)s
local headers = {["content-type"] = "application/json", ["authorization"] = "Bearer %(token)s"}
local counter, reading = 0, not alternate
reads, bad, first_bad = 0, 0, ""
local threads = {}

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function request()
  if alternate then reading = not reading end
  if reading then return wrk.format("POST", read_path, headers, read_body) end
  counter = counter + 1
  local server = ids[((id or 1) - 1) %% #ids + 1]
  local name = "wrk " .. (id or 1) .. " " .. counter
  local body
  if plain then
    body = '{"id":"' .. server .. '","name":"' .. name .. '"}'
  else
    body = '{"query":"%(change)s","variables":{"id":"' .. server .. '","name":"' .. name .. '"}}'
  end
  return wrk.format("POST", change_path, headers, body)
end

function response(status, headers, body)
  local ok
  if reading then
    ok = status == 200 and not string.find(body, '"errors"', 1, true)
    if ok then reads = reads + 1 end
  else
    ok = status == 200 and (plain or string.find(body, '"errors":[]', 1, true) ~= nil)
  end
  if not ok then
    bad = bad + 1
    if first_bad == "" then first_bad = status .. " " .. string.sub(body, 1, 200) end
  end
end

function done(summary, latency, requests)
  local reads_total, bad_total, first = 0, 0, ""
  for _, thread in ipairs(threads) do
    reads_total = reads_total + thread:get("reads")
    bad_total = bad_total + thread:get("bad")
    if first == "" then first = thread:get("first_bad") end
  end
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "reads": %%d, "duration_us": %%d, "bad": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d}\\n',
    summary.requests, reads_total, summary.duration, bad_total, e.connect + e.read + e.write + e.timeout,
    latency:percentile(50), latency:percentile(99)))
  io.stderr:write("first bad answer: " .. first .. "\\n")
end
"""


_STEADY_SCRIPT = """
wrk.method = "POST"
wrk.path = "%(read_path)s"
wrk.body = [==[%(read_body)s]==]
wrk.headers["content-type"] = "application/json"
wrk.headers["authorization"] = "Bearer %(token)s"

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %%d, "reads": %%d, "duration_us": %%d, "bad": %%d, "socket_errors": %%d, ' ..
    '"p50_us": %%d, "p99_us": %%d, "bytes": %%d}\\n',
    summary.requests, summary.requests - e.status, summary.duration, e.status,
    e.connect + e.read + e.write + e.timeout, latency:percentile(50), latency:percentile(99), summary.bytes))
  io.stderr:write("first bad answer: " .. e.status .. " answers were not 2xx (bodies are not kept)\\n")
end
"""


@dataclass
class ReadLoad:
    reads: int
    requests: int
    seconds: float
    bad: int
    first_bad: str
    p50_ms: float
    p99_ms: float
    server_cpu: float

    @property
    def per_second(self) -> float:
        return self.reads / self.seconds if self.seconds > 0 else math.nan

    @property
    def server_cpu_ms_per_read(self) -> float:
        return self.server_cpu / self.reads * 1000 if self.reads else math.nan


def ensure_wrk() -> bool:
    """Whether wrk is there, installing Debian's package when it is missing and apt may run."""
    if shutil.which("wrk"):
        return True
    log("wrk is missing: apt-get install -y wrk ...")
    for argv in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "wrk"]):
        try:
            subprocess.run(argv, check=True, capture_output=True, timeout=300)
        except (OSError, subprocess.SubprocessError) as error:
            log(f"could not install wrk ({error}); the read rows fall back to the Python client")
            return False
    return shutil.which("wrk") is not None


async def run_wrk(url: str, script: Path, threads: int, connections: int, seconds: float) -> tuple[dict[str, int], str]:
    """Run wrk with a Lua script that prints one JSON line of figures; those figures and wrk's stderr."""
    process = await asyncio.create_subprocess_exec(
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "30s",
        "-s",
        str(script),
        url,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}): {err.decode()[-300:]}")
    line = [x for x in out.decode().splitlines() if x.startswith("{")][-1]
    return json.loads(line), err.decode().strip()


async def read_load(
    base_url: str,
    read_path: str,
    read_body: bytes,
    token: str,
    *,
    connections: int,
    duration: float,
    warmup: float,
    server: Process,
    answer: bytes = b"",
    alternate_with: tuple[str, list[str], bool] | None = None,
) -> ReadLoad:
    """Reads at full speed over `connections`; with `alternate_with` (change path, server ids,
    plain?), each connection changes its own server before every read. Without it, the reads
    count when 2xx and wrk must have read at least `answer`'s length per read."""
    change_path, ids, plain = alternate_with or ("/", [""], False)
    values = {
        "read_path": read_path,
        "change_path": change_path,
        "read_body": read_body.decode(),
        "ids": ", ".join(f'"{i}"' for i in ids),
        "alternate": "true" if alternate_with else "false",
        "plain": "true" if plain else "false",
        "token": token,
        "change": CHANGE_MUTATION.replace('"', '\\\\"'),
    }
    # One thread per connection when alternating: each Lua state then drives one connection.
    threads = connections if alternate_with else 2
    with tempfile.TemporaryDirectory(prefix="mailreg-wrk-") as folder:
        script = Path(folder) / "reads.lua"
        script.write_text((_SCRIPT if alternate_with else _STEADY_SCRIPT) % values)
        if warmup > 0:
            await run_wrk(base_url, script, threads, connections, warmup)
        cpu0 = server.cpu_seconds()
        figures, stderr = await run_wrk(base_url, script, threads, connections, duration)
        cpu = server.cpu_seconds() - cpu0
    if figures["socket_errors"]:
        raise RuntimeError(f"wrk: {figures['socket_errors']} socket errors")
    if not alternate_with and figures["bytes"] < figures["reads"] * len(answer):
        raise RuntimeError(f"wrk read {figures['bytes']:,} bytes, less than {figures['reads']:,} answers need")
    return ReadLoad(
        reads=figures["reads"],
        requests=figures["requests"],
        seconds=figures["duration_us"] / 1e6,
        bad=figures["bad"],
        first_bad=stderr.rpartition("first bad answer: ")[2][:300],
        p50_ms=figures["p50_us"] / 1000,
        p99_ms=figures["p99_us"] / 1000,
        server_cpu=cpu,
    )
