"""`roadguard central migrate` and `roadguard central user add`, on a SQLite file."""

from __future__ import annotations

from sqlalchemy import select

from central.db import Database
from central.models import User
from roadguard.cli import main


def test_user_add_hashes_the_password_and_refuses_duplicates(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'c.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ROADGUARD_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OFFICER_PASSWORD", "a-long-password")
    assert main(["central", "migrate"]) == 0
    argv = [
        "central",
        "user",
        "add",
        "olga",
        "--role",
        "officer",
        "--password-env",
        "OFFICER_PASSWORD",
    ]
    assert main(argv) == 0
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().out
    database = Database(url)
    with database.session() as session:
        user = session.scalar(select(User).where(User.username == "olga"))
        assert user.role == "officer"
        assert user.password_hash.startswith("$argon2id$")
        assert "a-long-password" not in user.password_hash
    database.dispose()
    monkeypatch.setenv("OFFICER_PASSWORD", "short")
    assert (
        main(
            [
                "central",
                "user",
                "add",
                "bob",
                "--role",
                "officer",
                "--password-env",
                "OFFICER_PASSWORD",
            ]
        )
        == 2
    )


def test_a_broken_sites_file_stops_the_centre_with_its_name_and_line(tmp_path, monkeypatch, capsys):
    sites = tmp_path / "sites.yaml"
    sites.write_text("sites:\n- node_id: gate-7\n  name: 东门\n  lat: 30.1\n  long: 200\n")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'c.db'}")
    monkeypatch.setenv("ROADGUARD_MAP__SITES_FILE", str(sites))
    assert main(["central", "migrate"]) == 2
    said = capsys.readouterr().err
    assert "sites.yaml:5: sites.0.long" in said and "180" in said
