"""The outgoing check: SMTP with aiosmtplib, as a mail client would connect."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl

import aiosmtplib

from api.verification.notes import GRACE_SECONDS, Notes, ProbeStoppedError
from api.verification.tls import causes, handshake_failure, legacy_context
from domain.verification import FindingCode, NotChecked, Security, SmtpProbe


async def connect(host: str, port: int, notes: Notes) -> socket.socket:
    """A TCP connection to the first address of `host` that answers."""
    loop = asyncio.get_running_loop()
    notes.stage = "resolve"
    try:
        addresses = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise notes.stop(FindingCode.DNS_FAILED, detail=str(error.strerror or error)) from None
    notes.stage = "connect"
    failure: OSError | None = None
    for family, kind, proto, _, address in addresses:
        sock = socket.socket(family, kind, proto)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, address)
        except OSError as error:
            sock.close()
            failure = error
            continue
        return sock
    detail = str(getattr(failure, "strerror", None) or failure or "")
    if isinstance(failure, TimeoutError):
        raise notes.stop(FindingCode.TIMEOUT, stage=notes.stage)
    raise notes.stop(FindingCode.CONNECTION_REFUSED, detail=detail)


async def old_tls_version(probe: SmtpProbe) -> str | None:
    """The TLS version below 1.2 the server agrees to, if any, asked the way
    the settings say (implicit TLS or STARTTLS)."""
    if probe.security is Security.IMPLICIT_TLS:
        return await _old_implicit_version(probe.host, probe.port)
    smtp = aiosmtplib.SMTP(
        hostname=probe.host,
        port=probe.port,
        start_tls=False,
        timeout=probe.timeout_seconds + GRACE_SECONDS,
        local_hostname="localhost",  # replaced by our address once connected
    )
    try:
        await smtp.connect()
        smtp.local_hostname = _address_literal(smtp.get_transport_info("sockname")[0])
        await smtp.starttls(tls_context=legacy_context())
        return _tls_version(smtp)
    except (aiosmtplib.SMTPException, OSError):
        return None
    finally:
        smtp.close()


async def _old_implicit_version(host: str, port: int) -> str | None:
    # The handshake alone: nothing is read, so any server that speaks TLS will do.
    try:
        _, writer = await asyncio.open_connection(host, port, ssl=legacy_context(), server_hostname=host)
    except OSError:
        return None
    version = writer.get_extra_info("ssl_object").version()
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return str(version) if version else None


def _address_literal(address: str) -> str:
    """EHLO's argument: our address literal, so that no DNS lookup is needed."""
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def _tls_version(smtp: aiosmtplib.SMTP) -> str | None:
    ssl_object = smtp.get_transport_info("ssl_object") if smtp.transport is not None else None
    return str(ssl_object.version()) if ssl_object is not None else None


def _keywords(smtp: aiosmtplib.SMTP) -> list[str]:
    response = smtp.last_ehlo_response
    lines = response.message.splitlines() if response is not None else []
    return [line.strip() for line in lines[1:] if line.strip()]


async def _tls_failed(probe: SmtpProbe, notes: Notes, error: BaseException) -> ProbeStoppedError:
    code, detail = handshake_failure(error)
    if code is FindingCode.TIMEOUT:
        return notes.stop(code, stage=notes.stage)
    if code in (FindingCode.TLS_VERSION_TOO_OLD, FindingCode.TLS_HANDSHAKE_FAILED):
        # Some servers hang up instead of sending TLS's protocol_version alert:
        # a handshake that offers only old versions tells the two cases apart.
        version = await old_tls_version(probe)
        if version is not None:
            notes.set_tls_version(version)
            return notes.stop(FindingCode.TLS_VERSION_TOO_OLD)
    return notes.stop(code, detail=detail)


def _in_handshake(error: BaseException) -> bool:
    """Whether implicit TLS failed while connecting rather than on the greeting
    (aiosmtplib wraps both the same way; only socket and TLS errors are raw OSErrors)."""
    return any(
        isinstance(cause, ssl.SSLError)
        or (isinstance(cause, OSError) and not isinstance(cause, aiosmtplib.SMTPException))
        for cause in causes(error)
    )


def _is_timeout(error: BaseException) -> bool:
    return any(isinstance(cause, TimeoutError) for cause in causes(error))


def _protocol_error(notes: Notes, error: BaseException) -> Exception:
    if _is_timeout(error):
        return notes.stop(FindingCode.TIMEOUT, stage=notes.stage)
    message = getattr(error, "message", None) or str(error) or type(error).__name__
    return notes.stop(FindingCode.PROTOCOL_ERROR, detail=str(message))


async def check_smtp(probe: SmtpProbe, notes: Notes, context: ssl.SSLContext) -> None:
    """Connect, upgrade, read EHLO, sign in and quit, noting what happens."""
    sock = await connect(probe.host, probe.port, notes)
    implicit = probe.security is Security.IMPLICIT_TLS
    smtp = aiosmtplib.SMTP(
        hostname=probe.host,
        sock=sock,
        use_tls=implicit,
        start_tls=False,
        tls_context=context,
        timeout=probe.timeout_seconds + GRACE_SECONDS,
        local_hostname=_address_literal(sock.getsockname()[0]),
    )
    try:
        await _session(smtp, probe, notes, context)
    finally:
        smtp.close()  # closes the socket too: asyncio owns it from connect() on


async def _session(smtp: aiosmtplib.SMTP, probe: SmtpProbe, notes: Notes, context: ssl.SSLContext) -> None:
    notes.stage = "tls" if probe.security is Security.IMPLICIT_TLS else "greeting"
    try:
        await smtp.connect()
    except (aiosmtplib.SMTPException, OSError) as error:
        if probe.security is Security.IMPLICIT_TLS and _in_handshake(error):
            raise await _tls_failed(probe, notes, error) from None
        raise _protocol_error(notes, error) from None
    notes.set_tls_version(_tls_version(smtp))
    notes.add(FindingCode.CONNECTED, tls=notes.tls_version or "")
    notes.stage = "capabilities"
    try:
        await smtp.ehlo()
    except (aiosmtplib.SMTPException, OSError) as error:
        raise _protocol_error(notes, error) from None
    notes.set_capabilities(_keywords(smtp))
    if probe.security is Security.STARTTLS:
        await _upgrade(smtp, probe, notes, context)
    await _sign_in(smtp, probe, notes)
    with contextlib.suppress(aiosmtplib.SMTPException, OSError):
        await smtp.quit()


async def _upgrade(smtp: aiosmtplib.SMTP, probe: SmtpProbe, notes: Notes, context: ssl.SSLContext) -> None:
    if not smtp.supports_extension("starttls"):
        raise notes.stop(FindingCode.STARTTLS_NOT_OFFERED)
    notes.stage = "tls"
    try:
        await smtp.starttls(tls_context=context)
    except aiosmtplib.SMTPResponseException as refusal:
        reply = f"{refusal.code} {refusal.message}".strip()
        raise notes.stop(FindingCode.TLS_HANDSHAKE_FAILED, detail=reply) from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise await _tls_failed(probe, notes, error) from None
    notes.set_tls_version(_tls_version(smtp))
    notes.stage = "capabilities"
    try:
        await smtp.ehlo()
    except (aiosmtplib.SMTPException, OSError) as error:
        raise _protocol_error(notes, error) from None
    notes.set_capabilities(_keywords(smtp))


async def _sign_in(smtp: aiosmtplib.SMTP, probe: SmtpProbe, notes: Notes) -> None:
    if probe.mechanism is None:
        return
    offered = {method.upper() for method in smtp.server_auth_methods}
    if probe.mechanism not in offered:
        raise notes.stop(FindingCode.AUTH_METHOD_NOT_OFFERED, method=probe.mechanism, offered=" ".join(sorted(offered)))
    if probe.not_checked is not None or probe.account is None:
        notes.add(FindingCode.AUTH_NOT_CHECKED, reason=(probe.not_checked or NotChecked.NO_CREDENTIALS).value)
        return
    notes.stage = "sign-in"
    account = probe.account
    sign_in = {
        "PLAIN": smtp.auth_plain,
        "LOGIN": smtp.auth_login,
        "CRAM-MD5": smtp.auth_crammd5,
    }[probe.mechanism]
    try:
        await sign_in(account.username, account.password)
    except aiosmtplib.SMTPResponseException as error:
        reply = f"{error.code} {error.message}".strip()
        raise notes.stop(FindingCode.AUTH_FAILED, method=probe.mechanism, detail=reply) from None
    except (aiosmtplib.SMTPException, OSError) as error:
        raise _protocol_error(notes, error) from None
    notes.add(FindingCode.AUTH_OK, method=probe.mechanism)
