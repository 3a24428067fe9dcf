"""The schema is migrated on every start; the log says so once, when it changed."""

from __future__ import annotations

import logging

from central.db import Database


def test_a_start_says_when_the_schema_changed_and_nothing_when_it_did_not(tmp_path, caplog):
    database = Database(f"sqlite:///{tmp_path / 'central.db'}")
    with caplog.at_level(logging.INFO, logger="central.db"):
        database.migrate()
        database.migrate()  # the next start: nothing to do, nothing to say
    said = [r.getMessage() for r in caplog.records if r.name == "central.db"]
    assert len(said) == 1 and said[0].startswith("database schema upgraded from nothing to ")
    database.dispose()
