"""The database: engine, sessions, and the Alembic migrations run at start.

SQLite gets WAL and a busy timeout so the web threads, the scheduler and the MQTT consumer
can share one file; PostgreSQL is used as it is. Migrations run programmatically on the
engine's own connection, so no alembic.ini is needed on a deployed box.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, create_engine, event, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import InstrumentedAttribute, Session, sessionmaker

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def _normalise_url(url: str) -> str:
    # Plain `postgresql://` would pick psycopg2, which we do not install.
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = _normalise_url(url)
    if make_url(url).get_backend_name() == "sqlite":
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, **kwargs
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to `revision`; safe to call on every start and from every worker
    (PostgreSQL serialises the DDL on the alembic_version row, SQLite on the file lock)."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        before = MigrationContext.configure(connection).get_current_revision()
        command.upgrade(config, revision)
        after = MigrationContext.configure(connection).get_current_revision()
    if after != before:  # one line when the schema changed (the roadguard CLI quiets alembic)
        log.info("database schema upgraded from %s to %s", before or "nothing", after)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def migrate(self) -> None:
        migrate(self.engine)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error."""
        with self.sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


Row = TypeVar("Row")


def claim_overdue(
    session: Session,
    model: type[Row],
    state: InstrumentedAttribute[Any],
    waiting: object,
    deadline: InstrumentedAttribute[Any],
    now: datetime,
) -> list[Row]:
    """Rows still `waiting` whose `deadline` has passed, oldest deadline first, locked for
    this transaction. `skip_locked`: several workers may escalate at once on PostgreSQL
    without waiting on each other, and a row being decided right now is left to that
    decision (SQLite has one writer and ignores the clause)."""
    return list(
        session.scalars(
            select(model)
            .where(state == waiting, deadline <= now)
            .order_by(deadline)
            .with_for_update(skip_locked=True)
        )
    )
