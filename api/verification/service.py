"""Runs both directions' checks at once, each within its own timeout, and at
most a few verifications at a time per instance."""

from __future__ import annotations

import asyncio
import logging
import ssl
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from api.verification.mailbox import check_mailbox
from api.verification.notes import Notes, ProbeStoppedError
from api.verification.smtp import check_smtp
from api.verification.tls import client_context
from domain.model import Settings
from domain.verification import Credentials, EndpointReport, FindingCode, Report, plan

log = logging.getLogger("mailreg.verification")

MAX_RUNNING = 4


class RateLimitedError(Exception):
    """Too many verifications are running on this instance."""


class MailVerifier:
    """Checks a server's settings against the real mail servers."""

    def __init__(self, extra_ca_file: Path | None = None, max_running: int = MAX_RUNNING) -> None:
        self.extra_ca_file = extra_ca_file
        self.max_running = max_running
        self.running = 0
        self._context: ssl.SSLContext | None = None
        # Its own threads, so that blocked mailbox probes never queue behind
        # (or hold up) whatever else uses the loop's default executor.
        self._threads = ThreadPoolExecutor(max_workers=2 * max_running, thread_name_prefix="mailreg-verify")

    def context(self) -> ssl.SSLContext:
        """The client TLS context, built on first use (loading the trust store takes a moment)."""
        if self._context is None:
            self._context = client_context(self.extra_ca_file)
        return self._context

    async def verify(self, settings: Settings, credentials: Credentials | None) -> Report:
        """Both directions' reports; raises RateLimitedError, having tried nothing,
        when MAX_RUNNING verifications are already running."""
        if self.running >= self.max_running:
            raise RateLimitedError()
        self.running += 1
        try:
            context = self.context()
            loop = asyncio.get_running_loop()
            smtp, mailbox = plan(settings, credentials)
            secrets = credentials.secrets() if credentials else ()
            outgoing, incoming = await asyncio.gather(
                _direction(smtp.host, smtp.port, smtp.timeout_seconds, secrets, lambda n: check_smtp(smtp, n, context)),
                _direction(
                    mailbox.host,
                    mailbox.port,
                    mailbox.timeout_seconds,
                    secrets,
                    lambda n: loop.run_in_executor(self._threads, check_mailbox, mailbox, n, context),
                ),
            )
        finally:
            self.running -= 1
        return Report(outgoing=outgoing, incoming=incoming)


async def _direction(
    host: str, port: int, seconds: int, secrets: tuple[str, ...], check: Callable[[Notes], Awaitable[None]]
) -> EndpointReport:
    notes = Notes(secrets)
    started = time.monotonic()
    try:
        async with asyncio.timeout(seconds):
            await check(notes)
    except ProbeStoppedError:
        pass
    except TimeoutError:
        if not notes.findings or notes.findings[-1].code is not FindingCode.TIMEOUT:
            notes.add(FindingCode.TIMEOUT, stage=notes.stage)
    except Exception as error:  # noqa: BLE001 - a server's nonsense must not become a 500
        # The type only: an exception's text might quote what was sent.
        log.warning("verification of %s:%d ended with %s", host, port, type(error).__name__)
        notes.add(FindingCode.PROTOCOL_ERROR, detail=type(error).__name__)
    finally:
        notes.close()
    return notes.report(host, port, round((time.monotonic() - started) * 1000))
