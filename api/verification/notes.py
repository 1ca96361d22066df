"""What a probe has found so far, readable at its deadline while it still runs."""

from __future__ import annotations

import contextlib
import socket
import threading

from domain.verification import EndpointReport, Finding, FindingCode

MAX_DETAIL = 200
# Sockets and libraries get this much longer than a direction's deadline, so
# that the deadline alone decides when a direction has run out of time.
GRACE_SECONDS = 1.0


class ProbeStoppedError(Exception):
    """A probe found something that ends the check of its direction."""


class Notes:
    """Findings, capabilities and TLS version of one direction. Once closed (at
    the deadline) it ignores whatever a still-running worker thread adds, and
    shuts the sockets that thread may be blocked on."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        self.findings: list[Finding] = []
        self.capabilities: list[str] = []
        self.tls_version: str | None = None
        self.stage = "connect"
        self._secrets = secrets
        self._closed = False
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()

    def add(self, code: FindingCode, **params: str) -> None:
        """Note a finding (ignored once closed); its params are scrubbed and cut short."""
        with self._lock:
            if not self._closed:
                clean = tuple((key, self.scrub(value)[:MAX_DETAIL]) for key, value in params.items())
                self.findings.append(Finding(code=code, params=clean))

    def stop(self, code: FindingCode, **params: str) -> ProbeStoppedError:
        """Add a finding that ends this direction's check; raise what it returns."""
        self.add(code, **params)
        return ProbeStoppedError(code.value)

    def scrub(self, text: str) -> str:
        """The text with any credential the administrator typed blanked out, in
        case a server echoes it back."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def set_capabilities(self, capabilities: list[str]) -> None:
        """What the server says it can do, replacing what it said before (e.g. before STARTTLS)."""
        with self._lock:
            if not self._closed:
                self.capabilities = [self.scrub(c) for c in capabilities]

    def set_tls_version(self, version: str | None) -> None:
        """The TLS version negotiated (or, for a server stuck below 1.2, the one it insists on)."""
        with self._lock:
            if not self._closed:
                self.tls_version = version

    def watch(self, sock: socket.socket) -> None:
        """Shut this socket down when the deadline passes."""
        with self._lock:
            self._sockets.append(sock)
            closed = self._closed
        if closed:
            self._shut(sock)

    def close(self) -> None:
        """The deadline: take nothing more, and wake any thread blocked on a socket."""
        with self._lock:
            self._closed = True
            sockets = list(self._sockets)
        for sock in sockets:
            self._shut(sock)

    @staticmethod
    def _shut(sock: socket.socket) -> None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)

    def report(self, host: str, port: int, elapsed_ms: int) -> EndpointReport:
        """What was noted, as the direction's report."""
        with self._lock:
            return EndpointReport(
                host=host,
                port=port,
                tls_version=self.tls_version,
                capabilities=tuple(self.capabilities),
                findings=tuple(self.findings),
                elapsed_ms=elapsed_ms,
            )
