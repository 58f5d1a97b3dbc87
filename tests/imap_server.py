"""A real IMAP server for tests: a private Dovecot instance started and stopped by the test.

Dovecot (Debian's ``dovecot-imapd``) runs as ``/usr/sbin/dovecot -F -c CONF`` with a
self-contained configuration written into a temporary folder: its sockets, state, log, maildirs,
password file, certificate and key all live there (under root the maildirs are in a folder of
/tmp owned by the package's "dovecot" user, removed by ``stop()``: Dovecot reads mail as root
never), and it listens on two free ports of ``127.0.0.2``:

- ``port``: IMAPS, TLS from the first byte;
- ``starttls_port``: plain IMAP offering STARTTLS; LOGIN and AUTHENTICATE are refused until
  the connection is encrypted (``ssl = required``; the capability list says LOGINDISABLED).

Why 127.0.0.2 and not 127.0.0.1: Dovecot 2.3 treats a connection whose remote address equals
its local address as "secured" and then allows plaintext login without TLS, whatever the
settings say (login-common/client-common.c). A client connecting to 127.0.0.2 comes from
127.0.0.1 on Linux, so the plain port really demands STARTTLS. The certificate, issued by the
session's test CA (``tests.smtp_servers.test_ca``), names 127.0.0.2, 127.0.0.1 and localhost.

Dovecot is up in about 0.1 s, so the fixture is function-scoped: each test gets its own server
with an empty INBOX. A test module gets the fixture with

    from tests.imap_server import imap_server  # noqa: F401

(ruff then reports F811 at every test taking ``imap_server``; importing it as
``from tests.imap_server import imap_server as imap_server_fixture  # noqa: F401`` avoids that:
the fixture is named "imap_server" whatever the name it is imported under). The ``test_ca``
fixture it needs comes from tests/smtp_servers.py, which conftest.py loads as a plugin. Without
Dovecot the fixture skips the test, except when the environment variable CI is set: there a
missing Dovecot fails the test, so that a broken install cannot hide.

Mind that imaplib checks no certificate unless given a context: ``IMAP4_SSL(host, port)`` and
``starttls()`` without ``ssl_context`` use ``ssl._create_stdlib_context()`` (CERT_NONE); pass
``ssl.create_default_context()`` (which reads SSL_CERT_FILE, see ``trust_test_ca``).

The configuration is Dovecot 2.3 syntax (Debian 12 bookworm ships 2.3.19). Dovecot 2.4
(Debian 13 trixie) changed many settings; ``start_dovecot`` refuses any version other than 2.3
with a clear error rather than writing a configuration it was never tried with.

PYTEST_DONT_REWRITE: test modules import this file; it has no asserts to rewrite.
"""

from __future__ import annotations

import contextlib
import functools
import grp
import imaplib
import os
import pwd
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.smtp_servers import TestCA

DOVECOT = "/usr/sbin/dovecot"
HOST = "127.0.0.2"
USER = "office@avtoprokat.ru"
PASSWORD = "imap-Secret-42"
START_TIMEOUT = 15.0  # seconds until the IMAPS port accepts a login
STOP_TIMEOUT = 10.0
_GRACE = 0.2  # seconds Dovecot gets to stop on SIGTERM before SIGKILL
_POLL = 0.02
# A Unix socket path may not be longer than 107 bytes; Dovecot's longest name inside base_dir
# is about 30 characters ("token-login/imap-urlauth"), so a longer base_dir goes to /tmp.
_MAX_BASE_DIR = 70


@dataclass
class ImapServer:
    """A running Dovecot: where it listens, the one mailbox user, and helpers over IMAPS."""

    host: str
    port: int  # IMAPS (implicit TLS)
    starttls_port: int  # plain IMAP, STARTTLS required before login
    user: str
    password: str
    cafile: Path  # the test CA's PEM: trust it to talk to this server
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    _cleanup: list[Path] = field(default_factory=list, repr=False)

    # --- talking to it ----------------------------------------------------------------------------
    def ssl_context(self) -> ssl.SSLContext:
        """A client context that trusts the test CA (and nothing else)."""
        return ssl.create_default_context(cafile=str(self.cafile))

    def connect(self, *, timeout: float = 10.0) -> imaplib.IMAP4_SSL:
        """A logged-in IMAPS connection; the caller logs out."""
        client = imaplib.IMAP4_SSL(
            self.host, self.port, ssl_context=self.ssl_context(), timeout=timeout
        )
        client.login(self.user, self.password)
        return client

    @contextlib.contextmanager
    def session(self) -> Iterator[imaplib.IMAP4_SSL]:
        client = self.connect()
        try:
            yield client
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                client.logout()

    def append(
        self, message_bytes: bytes, folder: str = "INBOX", flags: Iterable[str] = ()
    ) -> None:
        """APPEND a message (CRLF line endings; imaplib turns bare LF into CRLF anyway).

        ``flags``: e.g. ``("\\\\Seen",)``. A folder other than INBOX is created when missing.
        """
        flag_list = "(" + " ".join(flags) + ")" if flags else None
        with self.session() as client:
            if folder.upper() != "INBOX":
                _check(client.create(_quote(folder)), "CREATE", allow=("ALREADYEXISTS",))
            _check(client.append(_quote(folder), flag_list, None, message_bytes), "APPEND")

    def messages(self, folder: str = "INBOX") -> list[bytes]:
        """Every message of ``folder`` in UID order, exactly as FETCH BODY[] returns it."""
        with self.session() as client:
            typ, data = client.select(_quote(folder), readonly=True)
            _check((typ, data), "EXAMINE")
            if int(data[0] or 0) == 0:
                return []
            typ, data = client.uid("FETCH", "1:*", "(BODY.PEEK[])")
            _check((typ, data), "UID FETCH")
            found: list[tuple[int, bytes]] = []
            for item in data:
                if isinstance(item, tuple):
                    uid = re.search(rb"UID (\d+)", item[0])
                    found.append((int(uid.group(1)) if uid else 0, item[1]))
            return [body for _uid, body in sorted(found)]

    def uidvalidity(self, folder: str = "INBOX") -> int:
        with self.session() as client:
            typ, data = client.status(_quote(folder), "(UIDVALIDITY)")
            _check((typ, data), "STATUS")
            match = re.search(rb"UIDVALIDITY (\d+)", data[0] or b"")
            if match is None:
                raise RuntimeError(f"no UIDVALIDITY in {data!r}")
            return int(match.group(1))

    # --- its life ---------------------------------------------------------------------------------
    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        """Stop Dovecot (SIGTERM, then SIGKILL if it lingers) and wait for it."""
        process, self.process = self.process, None
        if process is not None:
            _terminate(process)
        for path in self._cleanup:
            shutil.rmtree(path, ignore_errors=True)
        self._cleanup.clear()


def _terminate(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to Dovecot's process group (its own session): the master and every child.

    The master then often waits a second for children that still hold a listener; after
    GRACE seconds the group gets SIGKILL instead (nothing of a test server needs saving).
    """
    if process.poll() is not None:
        return
    for sig, timeout in ((signal.SIGTERM, _GRACE), (signal.SIGKILL, STOP_TIMEOUT)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=timeout)
            return
    raise RuntimeError(f"Dovecot (pid {process.pid}) survived SIGKILL")


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _check(result: tuple[str, list], command: str, allow: tuple[str, ...] = ()) -> None:
    typ, data = result
    if typ != "OK":
        text = b" ".join(d for d in data if isinstance(d, bytes)).decode("utf-8", "replace")
        if not any(code in text for code in allow):
            raise RuntimeError(f"IMAP {command} failed: {typ} {text}")


# --- Dovecot --------------------------------------------------------------------------------------
@functools.cache
def dovecot_version() -> str:
    """``dovecot --version``, e.g. "2.3.19.1 (9b53102964)"."""
    done = subprocess.run([DOVECOT, "--version"], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def _free_ports(count: int) -> list[int]:
    probes = [socket.socket() for _ in range(count)]
    try:
        for probe in probes:
            probe.bind((HOST, 0))
        return [probe.getsockname()[1] for probe in probes]
    finally:
        for probe in probes:
            probe.close()


def _config(
    *,
    base_dir: Path,
    state_dir: Path,
    log_path: Path,
    cert: Path,
    key: Path,
    passwd: Path,
    mail_root: Path,
    mail_user: str,
    imap_port: int,
    imaps_port: int,
) -> str:
    """dovecot.conf (2.3 syntax) for an instance started by the current user, root or not."""
    user = pwd.getpwuid(os.getuid()).pw_name
    group = grp.getgrgid(os.getgid()).gr_name
    mail = pwd.getpwnam(mail_user)
    if os.getuid() == 0:
        # Login processes refuse to run as root ("This process must not be run as root"):
        # they get the package's unprivileged login user, chrooted into base_dir/login.
        login_user = _first_user("dovenull", "nobody")
        chroot = ""
    else:
        # Without root there is no chroot() and no changing of users.
        login_user = user
        chroot = "\n".join(
            f"service {name} {{\n  chroot =\n}}"
            for name in ("anvil", "imap-urlauth-login", "imap-login")
        )
    return f"""\
# Written by tests/imap_server.py for one test server; Dovecot 2.3 syntax.
base_dir = {base_dir}
state_dir = {state_dir}
log_path = {log_path}
instance_name = avtoprokat-test-{imaps_port}
protocols = imap
listen = {HOST}
shutdown_clients = yes

# Dovecot's own processes run as the user who started the tests (root on CI); under root the
# login processes and the mail processes (which refuse root) run as unprivileged users.
default_internal_user = {user}
default_internal_group = {group}
default_login_user = {login_user}
# The userdb may not return uid 0, and gives none: the mail processes' uid and gid are these.
mail_uid = {mail.pw_uid}
mail_gid = {mail.pw_gid}
first_valid_uid = {mail.pw_uid}
last_valid_uid = {mail.pw_uid}
first_valid_gid = {mail.pw_gid}
last_valid_gid = {mail.pw_gid}
service stats {{
  # The mail processes report to stats; under root they are another user than stats.
  unix_listener stats-writer {{
    mode = 0666
  }}
}}

# TLS with the test CA's certificate. "required": no login of any kind before STARTTLS on
# the plain port (LOGINDISABLED is advertised).
ssl = required
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2

auth_mechanisms = plain login
auth_verbose = yes
# A wrong password is answered within half a second (auth's check timer), never slower.
auth_failure_delay = 0
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
  default_fields = home={mail_root}/%u
}}
mail_location = maildir:~/Maildir
namespace inbox {{
  inbox = yes
  separator = /
}}

service imap-login {{
  inet_listener imap {{
    address = {HOST}
    port = {imap_port}
  }}
  inet_listener imaps {{
    address = {HOST}
    port = {imaps_port}
    ssl = yes
  }}
}}
{chroot}
"""


def _first_user(*names: str) -> str:
    for name in names:
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return name
    raise RuntimeError(f"none of the users {names} exists")


def start_dovecot(
    tmp_dir: Path, test_ca: TestCA, *, user: str = USER, password: str = PASSWORD
) -> ImapServer:
    """Write a configuration into ``tmp_dir``, start Dovecot and wait until IMAPS takes a login.

    Raises RuntimeError (with the end of Dovecot's log) when it does not come up in
    START_TIMEOUT seconds.
    """
    version = dovecot_version()
    if not version.startswith("2.3."):
        raise RuntimeError(
            f"tests/imap_server.py writes Dovecot 2.3 configuration, found Dovecot {version}"
        )
    tmp_dir = Path(tmp_dir).resolve()
    cleanup: list[Path] = []
    base_dir = tmp_dir / "run"
    if len(str(base_dir)) > _MAX_BASE_DIR:
        base_dir = Path(tempfile.mkdtemp(prefix="dovecot-"))
        cleanup.append(base_dir)
    (tmp_dir / "state").mkdir(parents=True, exist_ok=True)
    if os.getuid() == 0:
        # The mail processes may not run as root, and pytest's tmp folders are private to root:
        # the maildirs go to a folder of /tmp owned by the package's "dovecot" user.
        mail_user = _first_user("dovecot", "nobody")
        mail_root = Path(tempfile.mkdtemp(prefix="dovecot-mail-"))
        cleanup.append(mail_root)
        owner = pwd.getpwnam(mail_user)
        os.chown(mail_root, owner.pw_uid, owner.pw_gid)
    else:
        mail_user = pwd.getpwuid(os.getuid()).pw_name
        mail_root = tmp_dir / "mail"
        mail_root.mkdir(exist_ok=True)

    leaf = test_ca.ca.issue_cert(HOST, "127.0.0.1", "localhost")
    cert, key = tmp_dir / "cert.pem", tmp_dir / "key.pem"
    cert.write_bytes(b"".join(blob.bytes() for blob in leaf.cert_chain_pems))
    key.write_bytes(leaf.private_key_pem.bytes())
    key.chmod(0o600)
    passwd = tmp_dir / "passwd"
    # user:password:uid:gid:gecos:home:shell:extra; home comes from userdb's default_fields.
    passwd.write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    passwd.chmod(0o600)

    conf_path, log_path = tmp_dir / "dovecot.conf", tmp_dir / "dovecot.log"
    for _attempt in range(3):  # a free port may be taken between probing and binding
        imap_port, imaps_port = _free_ports(2)
        conf_path.write_text(
            _config(
                base_dir=base_dir,
                state_dir=tmp_dir / "state",
                log_path=log_path,
                cert=cert,
                key=key,
                passwd=passwd,
                mail_root=mail_root,
                mail_user=mail_user,
                imap_port=imap_port,
                imaps_port=imaps_port,
            )
        )
        log_path.unlink(missing_ok=True)
        server = ImapServer(
            host=HOST,
            port=imaps_port,
            starttls_port=imap_port,
            user=user,
            password=password,
            cafile=test_ca.pem_path,
            log_path=log_path,
            _cleanup=cleanup,
        )
        with (tmp_dir / "stderr.log").open("ab") as stderr:
            server.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(conf_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                start_new_session=True,  # a process group of its own, stopped as a whole
            )
        try:
            _wait_until_ready(server, tmp_dir / "stderr.log")
        except _PortTaken:
            _terminate(server.process)  # keep the folders for the next attempt
            continue
        except BaseException:
            server.stop()
            raise
        return server
    for path in cleanup:
        shutil.rmtree(path, ignore_errors=True)
    raise RuntimeError("no free ports for the test IMAP server")


class _PortTaken(Exception):
    pass


def _wait_until_ready(server: ImapServer, stderr_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if server.process is None or server.process.poll() is not None:
            log = server.log_tail() + "\n" + stderr_path.read_text(errors="replace")
            if "Address already in use" in log:
                raise _PortTaken
            raise RuntimeError(f"Dovecot exited while starting; its log ends:\n{log}")
        try:
            client = server.connect(timeout=2)
        except (OSError, imaplib.IMAP4.error) as error:
            last_error = error
            time.sleep(_POLL)
            continue
        with contextlib.suppress(imaplib.IMAP4.error, OSError):
            client.logout()
        return
    raise RuntimeError(
        f"Dovecot did not accept an IMAPS login on {server.host}:{server.port} within "
        f"{START_TIMEOUT:.0f} s (last error: {last_error!r}); its log ends:\n{server.log_tail()}"
    )


# --- the fixture ----------------------------------------------------------------------------------
def require_dovecot(path: str = DOVECOT) -> None:
    """Skip the test when Dovecot is not installed; fail it instead when CI is set."""
    if os.path.exists(path):
        return
    message = f"{path} is missing: apt-get install dovecot-imapd"
    if os.environ.get("CI"):
        pytest.fail(f"{message} (CI is set: a missing Dovecot must not skip the IMAP tests)")
    pytest.skip(message)


@pytest.fixture(name="imap_server")
def imap_server(tmp_path_factory: pytest.TempPathFactory, test_ca: TestCA) -> Iterator[ImapServer]:
    """A fresh Dovecot for this test: an empty INBOX of USER, IMAPS and STARTTLS ports.

    Skipped when /usr/sbin/dovecot is missing, unless CI is set: then the test fails.
    """
    require_dovecot()
    server = start_dovecot(tmp_path_factory.mktemp("dovecot"), test_ca)
    try:
        yield server
    finally:
        server.stop()
