"""`mailreg serve --workers N`: N processes accept on one listening socket.

Each worker is a whole instance (engine, registry, feed, caches) on the shared
database, exactly as separate `mailreg serve` processes would be: positions,
read-your-writes, the response cache and subscriptions hold across them for
the same reasons they hold across machines."""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def run_workers(count: int, host: str, port: int, serve: Callable[[socket.socket], None]) -> int:
    """Fork `count` workers that each run `serve(sock)`; forward SIGTERM/SIGINT
    to them and return 0 when every one ended cleanly, else 1. A worker that
    dies takes the others down too, so a supervisor sees the failure."""
    sock = _listen(host, port)
    children: list[int] = []
    for _ in range(count):
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                serve(sock)
            except SystemExit as stop:
                code = stop.code if isinstance(stop.code, int) else 1
            except BaseException:
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
            os._exit(code)
        children.append(pid)
    sock.close()

    def forward(sig: int, _frame: FrameType | None) -> None:
        for child in children:
            try:
                os.kill(child, sig)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    status = 0
    alive = set(children)
    while alive:
        try:
            pid, raw = os.wait()
        except ChildProcessError:
            break
        alive.discard(pid)
        if os.waitstatus_to_exitcode(raw) != 0:
            if status == 0:
                forward(signal.SIGTERM, None)
            status = 1
    return status
