"""The centre under load: a throwaway PostgreSQL that says which worker applied what, and
real `roadguard central serve --mqtt` worker processes."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from mqtt.broker import free_port
from roadguard.testing.fleet.scripts import FleetError

log = logging.getLogger(__name__)


class FleetDatabase:
    """A throwaway PostgreSQL with commit timestamps, one database, migrated once."""

    def __init__(self) -> None:
        from central.testing.pg import PostgresCluster

        # Its own temp folder: as root the cluster runs as `postgres`, who must reach it.
        self.cluster = PostgresCluster()
        self.url = ""
        self.engine: Engine | None = None

    def start(self) -> FleetDatabase:
        from central.db import Database

        cluster = self.cluster.start()
        admin = create_engine(make_url(cluster.url()), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("ALTER SYSTEM SET track_commit_timestamp = on"))
            connection.execute(text('CREATE DATABASE "roadguard_fleet"'))
        admin.dispose()
        # A postmaster setting: restart (pg_ctl reuses the options the cluster started with).
        cluster._run(  # noqa: SLF001 - the test cluster's own runner (runuser as root)
            str(cluster.bin / "pg_ctl"), "-D", str(cluster.data), "-l", str(cluster.log),
            "-w", "-t", "60", "-m", "fast", "restart",
        )  # fmt: skip
        self.url = cluster.url("roadguard_fleet")
        central = Database(self.url)
        central.migrate()
        central.dispose()
        self.engine = create_engine(make_url(self.url))
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "ALTER TABLE ingested_messages ADD COLUMN bench_worker text "
                    "DEFAULT current_setting('application_name')"
                )
            )
            on = connection.execute(text("SHOW track_commit_timestamp")).scalar()
        if on != "on":
            raise FleetError("track_commit_timestamp did not turn on")
        return self

    def postmaster_pid(self) -> int:
        try:
            return int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def worker_url(self, worker: str) -> str:
        return f"{self.url}?application_name={worker}"

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.cluster.stop()

    def _query(self, sql: str, **params: Any) -> list[Any]:
        assert self.engine is not None
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def committed_count(self, ids: Sequence[str]) -> int:
        sql = "SELECT count(*) FROM ingested_messages WHERE id = ANY(:ids)"
        return self._query(sql, ids=list(ids))[0][0]

    def committed(self, ids: Sequence[str]) -> list[Any]:
        """(id, node_id, seq, worker, commit epoch seconds) of the given message ids."""
        return self._query(
            "SELECT id, node_id, seq, bench_worker, "
            "extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 "
            "FROM ingested_messages WHERE id = ANY(:ids)",
            ids=list(ids),
        )

    def episodes(self, ids: Sequence[str]) -> dict[str, Any]:
        rows = self._query(
            "SELECT id, state, last_event, last_seq FROM episodes WHERE id = ANY(:ids)",
            ids=list(ids),
        )
        return {row[0]: row for row in rows}

    def audit_counts(self, ids: Sequence[str]) -> Counter[str]:
        rows = self._query(
            "SELECT episode_id, count(*) FROM audit WHERE episode_id = ANY(:ids) "
            "GROUP BY episode_id",
            ids=list(ids),
        )
        return Counter({episode: count for episode, count in rows})

    def duplicate_ids(self) -> int:
        """Message ids stored more than once, over the whole table (must be 0)."""
        total, distinct = self._query("SELECT count(*), count(DISTINCT id) FROM ingested_messages")[
            0
        ]
        return total - distinct

    def workers_seen(self, node_id: str) -> set[str]:
        rows = self._query(
            "SELECT DISTINCT bench_worker FROM ingested_messages WHERE node_id = :node",
            node=node_id,
        )
        return {row[0] for row in rows}


class CentralWorker:
    """One ``roadguard central serve --mqtt`` process (web service, scheduler and consumer)."""

    def __init__(self, name: str, broker_port: int, database_url: str, workdir: Path) -> None:
        self.name = name
        self.broker_port = broker_port
        self.database_url = database_url
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def client_id(self) -> str:
        """Its stable MQTT client id: the broker keeps its session across a restart."""
        return f"fleet-{self.name}"

    def start(self) -> CentralWorker:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ROADGUARD_EVIDENCE_DIR": str(self.workdir / "evidence"),
            "ROADGUARD_SECRET_KEY": "fleet-benchmark-secret-key",
        }
        argv = [sys.executable, "-m", "roadguard", "central", "serve",
                "--mqtt", f"127.0.0.1:{self.broker_port}",
                "--host", "127.0.0.1", "--port", str(self.http_port),
                "--client-id", self.client_id]  # fmt: skip
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    def signal(self, sig: signal.Signals) -> None:
        if self.process is not None:
            self.process.send_signal(sig)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn: graceful, consumer stops
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
