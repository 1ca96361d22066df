"""Real mail servers on loopback for the verification tests: aiosmtpd (STARTTLS,
implicit TLS, plain), Dovecot (POP3 and IMAP4, with and without TLS and APOP),
`openssl s_server` speaking only TLS 1.1, and a listener that never speaks.
Certificates come from a throwaway test CA (trustme)."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.support import free_port

USER = "alice"
PASSWORD = "Pw-for-verification-7f3a9c"
SENDER = "alice-sends"
SENDER_PASSWORD = "Sending-pw-b81e44d2"


@dataclass
class Certificates:
    """A test CA and server certificates, as files."""

    folder: Path
    ca: trustme.CA = field(default_factory=trustme.CA)

    @property
    def ca_file(self) -> Path:
        path = self.folder / "ca.pem"
        if not path.exists():
            self.ca.cert_pem.write_to_path(str(path))
        return path

    def server_pem(self, name: str) -> Path:
        """Key and chain for `name` in one PEM file."""
        path = self.folder / f"{name}.pem"
        if not path.exists():
            self.ca.issue_cert(name).private_key_and_cert_chain_pem.write_to_path(str(path))
        return path

    def server_context(self, name: str) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(self.server_pem(name)))
        return context

    def tls_1_1_only(self, name: str) -> ssl.SSLContext:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # what the test is about
            context.minimum_version = ssl.TLSVersion.TLSv1_1
            context.maximum_version = ssl.TLSVersion.TLSv1_1
        # OpenSSL 3 offers TLS 1.1 only at security level 0.
        context.set_ciphers("DEFAULT:@SECLEVEL=0")
        context.load_cert_chain(str(self.server_pem(name)))
        return context


class Accounts:
    """aiosmtpd's authenticator: the receiving and the sending account."""

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            pair = (auth_data.login.decode(), auth_data.password.decode())
            if pair in ((USER, PASSWORD), (SENDER, SENDER_PASSWORD)):
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


class _Sink:
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        return "250 OK"


def smtp_server(
    *, starttls: ssl.SSLContext | None = None, implicit: ssl.SSLContext | None = None, port: int | None = None
) -> Controller:
    """A started aiosmtpd offering AUTH PLAIN and LOGIN (after STARTTLS when it offers STARTTLS)."""
    controller = Controller(
        _Sink(),
        hostname="127.0.0.1",
        port=port or free_port(),
        server_hostname="localhost",
        tls_context=starttls,
        ssl_context=implicit,
        require_starttls=False,
        authenticator=Accounts(),
        auth_require_tls=starttls is not None,
        ready_timeout=10,
    )
    controller.start()
    return controller


_DOVECOT_CONF = """\
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
protocols = {protocols}
listen = 127.0.0.1
ssl = yes
ssl_cert = <{pem}
ssl_key = <{pem}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
auth_failure_delay = 0
first_valid_uid = 1
default_internal_user = {internal}
default_login_user = {login}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={mail_group} home={folder}/home/%u
}}
mail_location = maildir:~/Maildir
service pop3-login {{
  inet_listener pop3 {{
    port = {pop3}
  }}
  inet_listener pop3s {{
    port = {pop3s}
    ssl = yes
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
"""


@dataclass
class Dovecot:
    """A throwaway Dovecot on high loopback ports with one user (USER/PASSWORD)."""

    folder: Path
    pem: Path
    apop: bool
    pop3: int = field(default_factory=free_port)
    pop3s: int = field(default_factory=free_port)
    imap: int = field(default_factory=free_port)
    imaps: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        # Dovecot's auth and mail processes run as other users: pytest's own
        # temporary folders (mode 0700) are closed to them.
        self.folder = Path(tempfile.mkdtemp(prefix=f"mailreg-{self.folder.name}-"))
        self.folder.chmod(0o755)
        shutil.copy(self.pem, self.folder / "server.pem")
        self.pem = self.folder / "server.pem"
        home = self.folder / "home"
        home.mkdir(exist_ok=True)
        # Mail processes drop to the mail user; Dovecot refuses uid 0 for mail.
        mail_user = "nobody" if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        me = "dovecot" if os.geteuid() == 0 else mail_user
        home.chmod(0o1777)
        (self.folder / "passwd").write_text(f"{USER}:{{PLAIN}}{PASSWORD}::::::\n")
        conf = self.folder / "dovecot.conf"
        conf.write_text(
            _DOVECOT_CONF.format(
                folder=self.folder,
                protocols="pop3 imap",
                pem=self.pem,
                mechanisms="plain login apop" if self.apop else "plain login",
                internal=me,
                login="dovenull" if os.geteuid() == 0 else mail_user,
                mail_user=mail_user,
                mail_group=pwd.getpwnam(mail_user).pw_gid,
                pop3=self.pop3,
                pop3s=self.pop3s,
                imap=self.imap,
                imaps=self.imaps,
            )
        )
        binary = shutil.which("dovecot") or "/usr/sbin/dovecot"
        self.process = subprocess.Popen([binary, "-F", "-c", str(conf)], stdout=subprocess.DEVNULL)
        for port in (self.pop3, self.pop3s, self.imap, self.imaps):
            wait_for_port(port, lambda: self.log)
        return self

    @property
    def log(self) -> str:
        path = self.folder / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        shutil.rmtree(self.folder, ignore_errors=True)


def wait_for_port(port: int, diagnostics: Any = lambda: "", timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"nothing listens on {port}:\n{diagnostics()}") from None
            time.sleep(0.05)


@dataclass
class OldTls:
    """`openssl s_server` that speaks TLS 1.1 and nothing newer."""

    pem: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> OldTls:
        self.process = subprocess.Popen(
            [
                "openssl",
                "s_server",
                "-accept",
                f"127.0.0.1:{self.port}",
                "-cert",
                str(self.pem),
                "-tls1_1",
                # OpenSSL 3 offers TLS 1.1 only at security level 0.
                "-cipher",
                "DEFAULT:@SECLEVEL=0",
                "-quiet",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(5)


class Silent:
    """Accepts connections and never says a word; counts them."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    @property
    def connections(self) -> int:
        return len(self.accepted)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.accepted.append(conn)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
