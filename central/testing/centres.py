"""A centre to test against, on SQLite or PostgreSQL with a fake clock, and its users.

For tests and benchmarks; the service never imports it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from central.centre import Centre
from central.clock import FakeClock
from central.config import CentralSettings, EvidenceConfig, UiConfig
from central.db import Database

# The databases every storage test runs on (`@pytest.fixture(params=DATABASES)`).
DATABASES = ("sqlite", "postgresql")
PASSWORD = "correct-horse-battery"
USERS = {"olga": "officer", "sam": "supervisor", "walt": "warden", "ada": "admin"}
# Users of the warden-report tests. name: (role, township, squad)
REPORT_USERS = {
    "walt": ("warden", "Xiaowan", "north"),
    "wendy": ("warden", "Dongcun", "south"),
    "olga": ("officer", None, "north"),
    "oscar": ("officer", None, "south"),
    "sam": ("supervisor", None, None),
    "ada": ("admin", None, None),
}


def database_url(kind: str, tmp_path: Path) -> tuple[str, Callable[[], None]]:
    """(url, cleanup) for a fresh database of `kind`."""
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'central.db'}", lambda: None
    from central.testing.pg import PostgresUnavailable, drop_database, fresh_database

    try:
        url = fresh_database()
    except PostgresUnavailable as exc:
        raise PostgresUnavailable(
            f"PostgreSQL tests need the Debian package postgresql: {exc}"
        ) from exc
    return url, lambda: drop_database(url)


@contextmanager
def open_centre(
    kind: str, tmp_path: Path, clock: FakeClock | None = None, **settings: Any
) -> Iterator[Centre]:
    """A migrated centre on a fresh database of `kind`, closed and dropped afterwards. Its
    pages speak English unless `ui` says otherwise (the tests of the Chinese pages do)."""
    url, cleanup = database_url(kind, tmp_path)
    settings.setdefault("ui", UiConfig(default_language="en"))
    settings.setdefault("evidence", EvidenceConfig(path=tmp_path / "evidence"))
    config = CentralSettings(
        database_url=url,
        secret_key="test-secret-key-0123456789",
        **settings,
    )
    centre = Centre(config, clock=clock or FakeClock(), database=Database(url))
    centre.db.migrate()
    try:
        yield centre
    finally:
        centre.close()
        cleanup()


def add_users(centre: Centre) -> None:
    """An officer, a supervisor, a warden and an admin, all with `PASSWORD`."""
    from central.users import add_user

    with centre.db.session() as session:
        for name, role in USERS.items():
            add_user(session, name, PASSWORD, role, centre.clock.now(), name.title())


def add_report_users(centre: Centre) -> None:
    """Two wardens and two officers in two squads, a supervisor and an admin."""
    from central.users import add_user

    with centre.db.session() as session:
        for name, (role, township, squad) in REPORT_USERS.items():
            add_user(
                session,
                name,
                PASSWORD,
                role,
                centre.clock.now(),
                name.title(),
                township=township,
                squad=squad,
            )


def api_key_for(centre: Centre, username: str) -> str:
    from sqlalchemy import select

    from central.api_keys import mint_api_key
    from central.models import User

    with centre.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        return mint_api_key(session, user, centre.clock.now(), "test")


def stored_files(root: Path) -> list[Path]:
    """Every file in an evidence store (temp files included): to prove nothing was left."""
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []
