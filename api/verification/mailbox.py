"""The incoming check: POP3 and IMAP4 with the standard library's clients, run
in a worker thread on a socket this module connects (and wraps in TLS) itself,
so that every step reads as its own finding."""

from __future__ import annotations

import imaplib
import poplib
import re
import socket
import ssl
from collections.abc import Callable

from api.verification.notes import GRACE_SECONDS, Notes
from api.verification.tls import handshake_failure, legacy_context
from domain.values import ReceiveProtocol
from domain.verification import FindingCode, MailboxProbe, NotChecked

# RFC 1939: an APOP-capable server puts a msg-id like <1896.697170952@host> in its greeting.
_APOP_TIMESTAMP = re.compile(rb"<[^<>@\s]+@[^<>\s]+>")


class _POP3(poplib.POP3):
    """poplib's client on a socket that is already connected."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self._prepared = sock
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return self._prepared


class _IMAP4(imaplib.IMAP4):
    """imaplib's client on a socket that is already connected."""

    def __init__(self, sock: socket.socket, host: str, port: int) -> None:
        self._prepared = sock
        super().__init__(host, port)

    def _create_socket(self, timeout: float | None = None) -> socket.socket:
        return self._prepared


def connect(host: str, port: int, timeout: float, notes: Notes) -> socket.socket:
    """A TCP connection to the first address of `host` that answers."""
    notes.stage = "resolve"
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise notes.stop(FindingCode.DNS_FAILED, detail=str(error.strerror or error)) from None
    notes.stage = "connect"
    failure: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        notes.watch(sock)
        sock.settimeout(timeout)
        try:
            sock.connect(address)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    if isinstance(failure, TimeoutError):
        raise notes.stop(FindingCode.TIMEOUT, stage=notes.stage)
    raise notes.stop(FindingCode.CONNECTION_REFUSED, detail=str(getattr(failure, "strerror", None) or failure or ""))


def old_tls_version(host: str, port: int, timeout: float, notes: Notes) -> str | None:
    """The TLS version below 1.2 the server agrees to, if any."""
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    notes.watch(sock)
    try:
        with legacy_context().wrap_socket(sock, server_hostname=host) as wrapped:
            return wrapped.version()
    except OSError:
        return None
    finally:
        sock.close()


def _tls(probe: MailboxProbe, sock: socket.socket, context: ssl.SSLContext, notes: Notes) -> socket.socket:
    notes.stage = "tls"
    try:
        wrapped = context.wrap_socket(sock, server_hostname=probe.host)
    except OSError as error:
        sock.close()
        code, detail = handshake_failure(error)
        if code is FindingCode.TIMEOUT:
            raise notes.stop(code, stage=notes.stage) from None
        if code in (FindingCode.TLS_VERSION_TOO_OLD, FindingCode.TLS_HANDSHAKE_FAILED):
            # As for SMTP: a handshake offering only old versions tells a
            # server stuck on them from one that hung up for another reason.
            version = old_tls_version(probe.host, probe.port, probe.timeout_seconds + GRACE_SECONDS, notes)
            if version is not None:
                notes.set_tls_version(version)
                raise notes.stop(FindingCode.TLS_VERSION_TOO_OLD) from None
        raise notes.stop(code, detail=detail) from None
    notes.watch(wrapped)
    notes.set_tls_version(wrapped.version())
    return wrapped


def check_mailbox(probe: MailboxProbe, notes: Notes, context: ssl.SSLContext) -> None:
    """Blocking: connect, read the greeting and capabilities, sign in and log
    out, noting what happens. Run it in a worker thread."""
    sock = connect(probe.host, probe.port, probe.timeout_seconds + GRACE_SECONDS, notes)
    if probe.use_tls:
        sock = _tls(probe, sock, context, notes)
    try:
        notes.stage = "greeting"
        if probe.protocol is ReceiveProtocol.POP3:
            _pop3(probe, sock, notes)
        else:
            _imap4(probe, sock, notes)
    finally:
        sock.close()


def _failure(notes: Notes, error: BaseException) -> Exception:
    if isinstance(error, TimeoutError):
        return notes.stop(FindingCode.TIMEOUT, stage=notes.stage)
    return notes.stop(FindingCode.PROTOCOL_ERROR, detail=str(error) or type(error).__name__)


def _not_checked(probe: MailboxProbe, notes: Notes) -> bool:
    if probe.account is not None:
        return False
    notes.add(FindingCode.AUTH_NOT_CHECKED, reason=(probe.not_checked or NotChecked.NO_CREDENTIALS).value)
    return True


def _pop3(probe: MailboxProbe, sock: socket.socket, notes: Notes) -> None:
    try:
        pop = _POP3(sock, probe.host, probe.port)
    except (poplib.error_proto, OSError, EOFError) as error:
        raise _failure(notes, error) from None
    if not pop.welcome.startswith(b"+OK"):
        raise notes.stop(FindingCode.PROTOCOL_ERROR, detail=pop.welcome.decode("latin-1"))
    notes.add(FindingCode.CONNECTED, tls=notes.tls_version or "")
    notes.stage = "capabilities"
    try:
        capabilities = pop.capa()
    except poplib.error_proto:
        capabilities = {}  # CAPA is optional in POP3 (RFC 2449)
    except OSError as error:
        raise _failure(notes, error) from None
    notes.set_capabilities([" ".join([name, *args]) for name, args in capabilities.items()])
    if probe.use_apop and not _APOP_TIMESTAMP.search(pop.welcome):
        raise notes.stop(FindingCode.APOP_NOT_SUPPORTED)
    if _not_checked(probe, notes):
        _quit(pop.quit)
        return
    assert probe.account is not None
    notes.stage = "sign-in"
    method = "APOP" if probe.use_apop else "USER/PASS"
    try:
        if probe.use_apop:
            pop.apop(probe.account.username, probe.account.password)
        else:
            pop.user(probe.account.username)
            pop.pass_(probe.account.password)
    except poplib.error_proto as refusal:
        raise notes.stop(FindingCode.AUTH_FAILED, method=method, detail=_reply(refusal)) from None
    except OSError as error:
        raise _failure(notes, error) from None
    notes.add(FindingCode.AUTH_OK, method=method)
    _quit(pop.quit)


def _imap4(probe: MailboxProbe, sock: socket.socket, notes: Notes) -> None:
    try:
        imap = _IMAP4(sock, probe.host, probe.port)
    except (imaplib.IMAP4.error, OSError, EOFError) as error:
        raise _failure(notes, error) from None
    notes.add(FindingCode.CONNECTED, tls=notes.tls_version or "")
    notes.set_capabilities(list(imap.capabilities))
    if "LOGINDISABLED" in imap.capabilities and probe.account is not None:
        # RFC 3501: the server refuses LOGIN here, whatever the password.
        raise notes.stop(FindingCode.AUTH_FAILED, method="LOGIN", detail="LOGINDISABLED")
    if _not_checked(probe, notes):
        _quit(imap.logout)
        return
    assert probe.account is not None
    notes.stage = "sign-in"
    try:
        imap.login(probe.account.username, probe.account.password)
    except imaplib.IMAP4.abort as error:
        raise _failure(notes, error) from None
    except imaplib.IMAP4.error as refusal:
        raise notes.stop(FindingCode.AUTH_FAILED, method="LOGIN", detail=_reply(refusal)) from None
    except OSError as error:
        raise _failure(notes, error) from None
    notes.add(FindingCode.AUTH_OK, method="LOGIN")
    _quit(imap.logout)


def _reply(error: Exception) -> str:
    """The server's own words from a refusal (poplib and imaplib keep them as bytes or text)."""
    reply = error.args[0] if error.args else ""
    return (reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)).strip()


def _quit(close: Callable[[], object]) -> None:
    try:
        close()
    except (poplib.error_proto, imaplib.IMAP4.error, OSError, EOFError):
        pass  # signed in (or not) already; a rude goodbye changes nothing
