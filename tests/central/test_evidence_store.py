"""The evidence stores: `local` files for one machine, `database` rows that every centre
machine on the same database serves (issue 15, design.md "Defaults and scale")."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from sqlalchemy import func, select

from central.centre import Centre
from central.config import CentralSettings, EvidenceConfig, UiConfig
from central.db import Database
from central.evidence import DatabaseEvidenceStore, EvidenceError, sha256_of
from central.models import EvidenceBlob
from central.testing.centres import DATABASES, add_users, open_centre
from central.testing.clients import login
from central.testing.records import ingest_violation, jpeg
from central.web import create_app

IN_THE_DATABASE = EvidenceConfig(backend="database")


@pytest.mark.parametrize("kind", DATABASES)
def test_the_database_store_keeps_each_picture_once_by_its_hash(kind, tmp_path):
    with open_centre(kind, tmp_path, evidence=IN_THE_DATABASE) as centre:
        store = centre.evidence
        assert isinstance(store, DatabaseEvidenceStore)
        data = jpeg("frame")
        digest = store.put(data)
        assert store.put(data) == digest == sha256_of(data)  # a re-delivery is free
        assert (store.get(digest), store.exists(digest)) == (data, True)
        with centre.db.session() as session:
            assert session.scalar(select(func.count()).select_from(EvidenceBlob)) == 1
        store.delete(digest)
        assert (store.get(digest), store.exists(digest)) == (None, False)
        with pytest.raises(EvidenceError, match="not a sha256 key"):
            store.get("../../etc/passwd")
        assert not (tmp_path / "evidence").exists()  # nothing on this machine's disk


def test_a_second_centre_on_the_same_postgresql_serves_what_the_first_ingested(tmp_path):
    with open_centre("postgresql", tmp_path, evidence=IN_THE_DATABASE) as first:
        add_users(first)
        ingest_violation(first, "ep-1")  # five pictures, through ingest
        settings = CentralSettings(
            database_url=first.settings.database_url,
            evidence=EvidenceConfig(backend="database", path=tmp_path / "second-machine"),
            secret_key="second-machine-secret-key",
            ui=UiConfig(default_language="en"),
        )
        second = Centre(settings, database=Database(settings.database_url))
        try:
            client, _token = login(create_app(second, run_scheduler=False), "olga")
            picture = client.get("/evidence/ep-1/violation-frame.jpg")
            assert picture.status_code == 200
            assert picture.content == jpeg("ep-1 violatio")  # as `ingest_violation` drew it
            assert picture.headers["content-type"] == "image/jpeg"
        finally:
            second.close()
        assert not (tmp_path / "second-machine").exists()
        assert not (tmp_path / "evidence").exists()


def test_an_unknown_backend_is_refused_by_name():
    with pytest.raises(ValidationError, match="'local' or 'database'"):
        EvidenceConfig(backend="s3")
