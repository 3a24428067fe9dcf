"""The production path for fault tests: a secured Mosquitto (password file, the pattern ACL,
`use_username_as_clientid`), a real `roadguard central serve --mqtt` process consuming on the
shared subscription under its own account, and killable node processes
(`python -m mqtt.testing publish`) with their outboxes on disk.

Faults are staged by the tests with signals (SIGSTOP, SIGKILL, SIGTERM) and a `LinkCut`;
this module only starts, stops and reads the parts.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, text

from mqtt.broker import Broker, free_port
from mqtt.client import NodeLink
from mqtt.config import MqttConfig

ROOT = Path(__file__).resolve().parents[2]
PASSWORDS = {"central": "central-pw", "gate-a": "gate-a-pw", "gate-b": "gate-b-pw"}
PROBE = "probe"
PASSWORDS[PROBE] = "probe-pw"


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` (a database or a file another process writes: nothing to wait on)
    until it holds; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.05)  # poll interval of another process's state


class CentreProcess:
    """`roadguard central serve --mqtt` on SQLite, as the broker's `central` account."""

    def __init__(self, workdir: Path, broker_port: int) -> None:
        self.workdir = workdir
        self.broker_port = broker_port
        self.db_path = workdir / "central.db"
        self.http_port = free_port()
        self.log_path = workdir / "central.log"
        self.password_file = workdir / "central.pw"
        self.password_file.write_text(PASSWORDS["central"])
        self.process: subprocess.Popen[bytes] | None = None
        self.engine = create_engine(f"sqlite:///{self.db_path}")

    def start(self) -> CentreProcess:
        env = {
            **os.environ,
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": f"sqlite:///{self.db_path}",
            "ROADGUARD_EVIDENCE_DIR": str(self.workdir / "evidence"),
            "ROADGUARD_SECRET_KEY": "delivery-test-secret-key",
        }
        argv = [sys.executable, "-m", "roadguard", "central", "serve",
                "--mqtt", f"127.0.0.1:{self.broker_port}", "--mqtt-username", "central",
                "--mqtt-password-file", str(self.password_file),
                "--client-id", "central-1", "--port", str(self.http_port)]  # fmt: skip
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        assert self.process is not None
        self.process.send_signal(sig)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait(10)
            self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def scalar(self, sql: str, **params: object) -> int:
        if not self.db_path.exists():
            return 0
        try:
            with self.engine.connect() as connection:
                return int(connection.execute(text(sql), params).scalar() or 0)
        except Exception:  # the schema is not migrated yet
            return 0

    def episodes(self, node: str) -> int:
        return self.scalar("SELECT count(*) FROM episodes WHERE node_id = :n", n=node)

    def ingested(self, node: str) -> int:
        return self.scalar("SELECT count(*) FROM ingested_messages WHERE node_id = :n", n=node)

    def episode_ids(self, node: str) -> list[str]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id FROM episodes WHERE node_id = :n ORDER BY id"), {"n": node}
            )
            return [row[0] for row in rows]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


class NodeProcess:
    """A killable edge process publishing `count` numbered episodes through its outbox."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        node: str,
        count: int,
        *,
        evidence_every: int = 10,
        interval: float = 0.005,
        keepalive: int = 30,
    ) -> None:
        self.outbox = workdir / f"outbox-{node}.sqlite"
        self.node = node
        self.count = count
        self.evidence_every = evidence_every
        self.argv = [sys.executable, "-m", "mqtt.testing", "publish", "--port", str(port),
                     "--node", node, "--outbox", str(self.outbox), "--count", str(count),
                     "--evidence-every", str(evidence_every), "--interval", str(interval),
                     "--username", node, "--password", PASSWORDS[node],
                     "--receipt-timeout", "1", "--keepalive", str(keepalive),
                     "--drain-timeout", "240"]  # fmt: skip
        self.log_path = workdir / f"{node}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> NodeProcess:
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        return self

    def finish(self, timeout: float = 300) -> None:
        """Wait for the process to end: it exits 0 once every message has a receipt."""
        assert self.process is not None
        code = self.process.wait(timeout)
        assert code == 0, self.log_path.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    def _outbox(self, sql: str) -> int:
        if not self.outbox.exists():
            return 0
        db = sqlite3.connect(self.outbox, timeout=10)
        try:
            row = db.execute(sql).fetchone()  # None before the first row is written
            return int(row[0] or 0) if row else 0
        except sqlite3.OperationalError:
            return 0
        finally:
            db.close()

    @property
    def produced(self) -> int:
        return self._outbox("SELECT value FROM meta WHERE key = 'produced:episode'")

    @property
    def depth(self) -> int:
        """Rows of episodes and evidence still waiting for the centre."""
        return self._outbox("SELECT count(*) FROM messages WHERE kind IN ('episode', 'evidence')")

    @property
    def unsent(self) -> int:
        """Rows the broker has not acknowledged (PUBACK) yet."""
        return self._outbox(
            "SELECT count(*) FROM messages WHERE due_at = 0 AND kind IN ('episode', 'evidence')"
        )

    @property
    def messages(self) -> int:
        """Episodes and evidence this node makes in all: what the centre must hold."""
        every = self.evidence_every
        return self.count + (len(range(0, self.count, every)) if every else 0)


class DeliveryRig:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.broker = Broker(workdir / "broker", accounts=PASSWORDS)
        self.centre = CentreProcess(workdir, self.broker.port)
        self._probe: NodeLink | None = None
        self._probes = 0

    def start(self) -> DeliveryRig:
        self.broker.start()
        self.centre.start()
        self.wait_consuming()
        return self

    def wait_consuming(self, timeout: float = 60) -> None:
        """Until the centre has committed a probe episode published after this call: its
        shared subscription is live on the broker."""
        if self._probe is None:
            self._probe = NodeLink(
                MqttConfig(
                    port=self.broker.port,
                    username=PROBE,
                    password=PASSWORDS[PROBE],
                    outbox_path=self.workdir / "outbox-probe.sqlite",
                    receipt_timeout_s=1,
                    reconnect_min_s=0.05,
                    reconnect_max_s=0.5,
                ),
                PROBE,
            )
            self._probe.start()
        from mqtt.testing import numbered_record

        self._probes += 1
        record = numbered_record(self._probes, PROBE).model_copy(
            update={"episode_id": f"probe-{self._probes}"}
        )
        self._probe.publish_episode(record)
        wanted = self._probes
        wait_for(
            lambda: self.centre.episodes(PROBE) >= wanted,
            timeout,
            f"the centre to consume (log:\n{self.centre.log_tail()})",
        )

    def node(self, node: str, count: int, **options: object) -> NodeProcess:
        return NodeProcess(self.workdir, self.broker.port, node, count, **options)  # type: ignore[arg-type]

    def assert_exactly_once(self, node: NodeProcess) -> None:
        """Every episode of `node` at the centre once, every message once, none dead."""
        expected = [f"ep-{i:06d}" for i in range(node.count)]
        assert self.centre.episode_ids(node.node) == expected
        assert self.centre.ingested(node.node) == node.count  # each episode message once
        evidence = self.centre.scalar(
            "SELECT count(*) FROM evidence WHERE node_id = :n", n=node.node
        )
        assert evidence == node.messages - node.count
        assert self.centre.scalar("SELECT count(*) FROM dead_letters") == 0
        assert node.depth == 0, "the outbox is not empty"

    def close(self) -> None:
        if self._probe is not None:
            self._probe.close(timeout=2)
        self.centre.stop()
        self.centre.engine.dispose()
        self.broker.kill()
