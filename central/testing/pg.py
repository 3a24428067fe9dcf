"""A throwaway PostgreSQL for tests: `initdb` + `pg_ctl` from the Debian package, on a free
loopback port, in a temp dir, torn down at exit.

PostgreSQL refuses to run as root, so as root the cluster is created and run as the
`postgres` OS user (made by the Debian package) through `runuser`. When `DATABASE_URL`
points at a PostgreSQL server, that server is used instead (CI with a service container);
each test still gets a database of its own.
"""

from __future__ import annotations

import atexit
import glob
import os
import shutil
import subprocess
import tempfile
import threading
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mqtt.broker import free_port


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries here (Debian: apt-get install postgresql)."""


def pg_bin_dir() -> Path | None:
    """The newest /usr/lib/postgresql/<major>/bin with initdb and pg_ctl."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: (
            int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0
        ),
    )
    if candidates:
        return Path(candidates[-1]).parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


class PostgresCluster:
    def __init__(self, workdir: Path | None = None, port: int | None = None) -> None:
        bin_dir = pg_bin_dir()
        if bin_dir is None:
            raise PostgresUnavailable("no initdb/pg_ctl; install the Debian package postgresql")
        self.bin = bin_dir
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="roadguard-pg-"))
        self.data = self.workdir / "data"
        self.log = self.workdir / "postgres.log"
        self.port = port or free_port()
        self.user = "postgres"
        self._as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, cwd=self.workdir)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"{' '.join(argv[:2])} failed ({result.returncode}):\n"
                f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}\n{self._log_tail()}"
            )
        return result

    def _log_tail(self) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-20:])
        except OSError:
            return ""

    def start(self) -> PostgresCluster:
        if self.started:
            return self
        if self._as_root:
            shutil.chown(self.workdir, "postgres", "postgres")
        self._run(
            str(self.bin / "initdb"),
            "-D",
            str(self.data),
            "-U",
            self.user,
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        # Durability is not the point of a test database: fsync off makes it quick.
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.workdir} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
            "-c max_connections=100"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "60",
            "-o",
            options,
            "start",
        )
        self.started = True
        return self

    def stop(self) -> None:
        if self.started:
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop")
            self.started = False
        shutil.rmtree(self.workdir, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{self.user}@127.0.0.1:{self.port}/{database}"

    def __enter__(self) -> PostgresCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


_shared: PostgresCluster | None = None
_lock = threading.Lock()


def shared_cluster() -> PostgresCluster:
    """One cluster per test process, started on first use and stopped at exit."""
    global _shared
    with _lock:
        if _shared is None:
            cluster = PostgresCluster().start()
            atexit.register(cluster.stop)
            _shared = cluster
        return _shared


def server_url() -> str:
    """The admin URL of the server tests use: `DATABASE_URL` if it is PostgreSQL, else the
    throwaway cluster."""
    env = os.environ.get("DATABASE_URL", "")
    if env.startswith(("postgresql", "postgres:")):
        url = make_url(env)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url.render_as_string(hide_password=False)
    return shared_cluster().url()


def fresh_database() -> str:
    """A new, empty database on the test server; its URL."""
    admin = make_url(server_url())
    name = f"rg_test_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        engine.dispose()
    return admin.set(database=name).render_as_string(hide_password=False)


def drop_database(url: str) -> None:
    target = make_url(url)
    engine = create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        engine.dispose()
