"""Mosquitto, configured for our contract: a config writer for real deployments
(`roadguard broker config`) and a throw-away broker for tests and the demo (`Broker`).

Deliberate settings (see shared/research.md, measured on Debian's Mosquitto 2.0.11):
- `persistence true`: without it a broker restart forgets every queued QoS 1 message and
  every persistent session.
- `max_queued_messages` raised from the default 1000, which silently drops QoS 1 messages
  for a slow or absent subscriber in a flood (up to 5,800 of 20,000 in the measurement).
- `log_dest stderr`: as root Mosquitto drops to the `mosquitto` user and cannot open a log
  file in a root-owned folder; stderr always works.
- Per-node accounts and a pattern ACL (`%u` is the username, which is the node id): a node
  may publish only under its own `roadguard/v1/<node>/` and read only its own commands and
  receipts; the central accounts read and write everything under `roadguard/v1/`.
- `use_username_as_clientid true`: a client id is an identity. Whatever id a client sends,
  the broker uses its account name, so node `gate-a` cannot take over the session of
  `gate-b` or of a central worker by claiming its id. Each central worker therefore has an
  account of its own (`central`, `central-2`, ...).
- As root, Mosquitto drops to the `mosquitto` user before it reads the password file and
  writes its persistence: the writer gives that user the files and the data dir.

amqtt, the pure-Python broker, speaks MQTT 3.1.1 only and silently delivers nothing on
`$share/...`, so it cannot carry this contract: without Mosquitto there is no embedded broker.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from mqtt.topics import ROOT, node_prefix

log = logging.getLogger(__name__)

CENTRAL_USER = "central"
MAX_QUEUED_MESSAGES = 1_000_000
PBKDF2_ITERATIONS = 101  # what mosquitto_passwd writes for `$7$`


class BrokerUnavailable(RuntimeError):
    """No Mosquitto on this machine (install the Debian package `mosquitto`)."""


# -- accounts ---------------------------------------------------------------------------------
def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """The `$7$` (sha512-pbkdf2) hash of `mosquitto_passwd`, computed here so writing a
    password file needs no Mosquitto tools and no password on a command line."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ITERATIONS)
    b64 = base64.b64encode
    return f"$7${PBKDF2_ITERATIONS}${b64(salt).decode()}${b64(digest).decode()}"


def password_file(accounts: dict[str, str]) -> str:
    for user in accounts:
        if ":" in user or not user:
            raise ValueError(f"username {user!r} cannot go in a Mosquitto password file")
    return "".join(f"{user}:{hash_password(pw)}\n" for user, pw in sorted(accounts.items()))


def central_users(first: str = CENTRAL_USER, workers: int = 1) -> list[str]:
    """One account per central worker: `central`, `central-2`, ... (the broker makes the
    account the client id, so two workers cannot share one)."""
    return [first, *(f"{first}-{n}" for n in range(2, workers + 1))]


def acl_file(central_user: str | list[str] = CENTRAL_USER) -> str:
    """Patterns apply to every account; `%u` is the node's username = its node id."""
    node = f"{ROOT}/%u"
    centrals = [central_user] if isinstance(central_user, str) else central_user
    central_lines = [
        line for user in centrals for line in (f"user {user}", f"topic readwrite {ROOT}/#", "")
    ]
    return "\n".join(
        [
            "# RoadGuard broker ACL: a node publishes only under its own prefix.",
            *central_lines,
            "# Every node account (username = node id):",
            f"pattern write {node}/status",
            f"pattern write {node}/health",
            f"pattern write {node}/ack/+",
            f"pattern write {node}/+/episode",
            f"pattern write {node}/+/evidence/#",
            f"pattern read {node}/cmd/+",
            f"pattern read {node}/receipts",
            "",
        ]
    )


@dataclass(frozen=True)
class BrokerSettings:
    port: int = 1883
    bind_address: str = "127.0.0.1"
    persistence_dir: Path | None = None  # None: no persistence (never in production)
    password_path: Path | None = None  # None: anonymous clients allowed (tests, demo)
    acl_path: Path | None = None
    max_queued_messages: int = MAX_QUEUED_MESSAGES
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_ca: Path | None = None
    extra: list[str] = field(default_factory=list)


def mosquitto_conf(settings: BrokerSettings) -> str:
    s = settings
    lines = [
        "# Written by RoadGuard (mqtt/broker.py); see that module for why each line is here.",
        "per_listener_settings false",
        f"listener {s.port} {s.bind_address}",
        "protocol mqtt",
    ]
    if s.tls_cert is not None:
        lines += [f"certfile {s.tls_cert}", f"keyfile {s.tls_key}"]
        if s.tls_ca is not None:
            lines.append(f"cafile {s.tls_ca}")
    if s.password_path is not None:
        lines += [
            "allow_anonymous false",
            f"password_file {s.password_path}",
            "use_username_as_clientid true",
        ]
    else:
        lines.append("allow_anonymous true")
    if s.acl_path is not None:
        lines.append(f"acl_file {s.acl_path}")
    if s.persistence_dir is not None:
        lines += [
            "persistence true",
            f"persistence_location {s.persistence_dir}/",
            "autosave_interval 30",
        ]
    else:
        lines.append("persistence false")
    lines += [
        f"max_queued_messages {s.max_queued_messages}",
        "max_queued_bytes 0",
        "max_inflight_messages 100",
        "persistent_client_expiration 14d",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
        "log_type notice",
        "log_type information",
        "connection_messages true",
        *s.extra,
    ]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class WrittenConfig:
    conf: Path
    passwords: dict[str, str]  # username -> clear password, to hand to the nodes once


def write_broker_config(
    folder: Path,
    nodes: dict[str, str | None],
    *,
    central_user: str = CENTRAL_USER,
    central_password: str | None = None,
    central_workers: int = 1,
    port: int = 1883,
    bind_address: str = "0.0.0.0",
    persistence_dir: Path | None = None,
    tls_cert: Path | None = None,
    tls_key: Path | None = None,
    tls_ca: Path | None = None,
) -> WrittenConfig:
    """`mosquitto.conf`, `passwd` (hashed), `acl` and the data dir in `folder`. A node given
    without a password gets a random one, and so does each central worker's account after
    the first (`central_workers`); the clear passwords are returned, never written. The
    files are made readable by the user Mosquitto runs as, whether it is started as root
    (it drops to `mosquitto`) or as the user who wrote them."""
    for node in nodes:
        node_prefix(node)  # a node id must be a valid topic level
    centrals = central_users(central_user, central_workers)
    for name in centrals:
        if name in nodes:
            raise ValueError(f"a node may not be called {name!r}, a central account")
    passwords = {n: pw or secrets.token_urlsafe(18) for n, pw in nodes.items()}
    passwords[central_user] = central_password or secrets.token_urlsafe(18)
    for name in centrals[1:]:
        passwords[name] = secrets.token_urlsafe(18)
    folder.mkdir(parents=True, exist_ok=True)
    passwd, acl, conf = folder / "passwd", folder / "acl", folder / "mosquitto.conf"
    passwd.write_text(password_file(passwords))
    passwd.chmod(0o640)
    acl.write_text(acl_file(centrals))
    data = persistence_dir or folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    _hand_to_broker_user(passwd, acl, data)
    settings = BrokerSettings(
        port=port,
        bind_address=bind_address,
        persistence_dir=data.resolve(),
        password_path=passwd.resolve(),
        acl_path=acl.resolve(),
        tls_cert=tls_cert,
        tls_key=tls_key,
        tls_ca=tls_ca,
    )
    conf.write_text(mosquitto_conf(settings))
    return WrittenConfig(conf, passwords)


BROKER_USER = "mosquitto"  # who Debian's (and upstream's default) Mosquitto runs as


def _hand_to_broker_user(passwd: Path, acl: Path, data: Path) -> None:
    """As root: the files to group `mosquitto` (0640, still secret from everyone else), the
    data dir to the user. Not root: Mosquitto runs as the writer, who owns them already."""
    if os.geteuid() != 0:
        return
    try:
        import pwd

        entry = pwd.getpwnam(BROKER_USER)
    except KeyError:
        log.warning(
            "no %r user: Mosquitto started as root will not be able to read %s", BROKER_USER, passwd
        )
        return
    for path in (passwd, acl):
        os.chown(path, 0, entry.pw_gid)
        path.chmod(0o640)
    os.chown(data, entry.pw_uid, entry.pw_gid)
    data.chmod(0o700)


# -- a broker we run ourselves ----------------------------------------------------------------
def mosquitto_binary() -> str:
    for candidate in (shutil.which("mosquitto"), "/usr/sbin/mosquitto"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise BrokerUnavailable(
        "mosquitto not found: install it (`apt-get install mosquitto`, or `make system-deps`); "
        "amqtt cannot stand in (MQTT 3.1.1 only, no shared subscriptions)"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Broker:
    """A Mosquitto on a loopback port with its config, persistence and log in `workdir`.

    `start()` returns once the port accepts connections (it polls by connecting, with a
    deadline, and fails fast with the broker's own log if the process exits). `stop()` is a
    graceful SIGTERM, which makes Mosquitto save its persistence; `kill()` is SIGKILL."""

    def __init__(
        self,
        workdir: Path | None = None,
        *,
        port: int | None = None,
        accounts: dict[str, str] | None = None,
        central_user: str = CENTRAL_USER,
        persistence: bool = True,
    ) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="roadguard-broker-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.host = "127.0.0.1"
        self.log_path = self.workdir / "mosquitto.log"
        self._process: subprocess.Popen[bytes] | None = None
        password_path = acl_path = None
        if accounts is not None:
            password_path = self.workdir / "passwd"
            password_path.write_text(password_file(accounts))
            acl_path = self.workdir / "acl"
            acl_path.write_text(acl_file(central_user))
        data = self.workdir / "data" if persistence else None
        if data is not None:
            data.mkdir(exist_ok=True)
        self.conf_path = self.workdir / "mosquitto.conf"
        self.conf_path.write_text(
            mosquitto_conf(
                BrokerSettings(
                    port=self.port,
                    persistence_dir=data,
                    password_path=password_path,
                    acl_path=acl_path,
                    # As root Mosquitto drops to the `mosquitto` user, who cannot reach a
                    # private temp folder (pytest's are 0700); a loopback test broker stays.
                    extra=["user root"] if os.geteuid() == 0 else [],
                )
            )
        )

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> Broker:
        if self.running:
            return self
        log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [mosquitto_binary(), "-c", str(self.conf_path)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while True:
            if self._process.poll() is not None:
                raise BrokerUnavailable(f"mosquitto exited at start:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.kill()
                    raise BrokerUnavailable(
                        f"mosquitto not accepting on {self.port}:\n{self.log_tail()}"
                    ) from None
                time.sleep(0.01)  # poll interval of the readiness check, not a sync sleep

    def stop(self, timeout: float = 10.0) -> None:
        """SIGTERM: Mosquitto saves its persistence and exits."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()
        self._process = None

    def restart(self, timeout: float = 10.0) -> None:
        self.stop(timeout)
        self.start(timeout)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> Broker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def embedded_broker(workdir: Path | None = None, port: int | None = None) -> Broker:
    """The demo's broker when none is configured: a started Mosquitto on loopback, anonymous,
    with persistence. Raises BrokerUnavailable when Mosquitto is not installed."""
    mosquitto_binary()
    return Broker(workdir, port=port).start()
