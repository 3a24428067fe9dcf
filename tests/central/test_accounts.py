"""Sessions, accounts and logins as an outside tester probes them: a cookie copied before
logout, a session on a second worker, an account cut off while signed in, a password
changed, a key revoked, 250 wrong passwords in a row, and a centre served with no secret or
with the demo's password. On SQLite and PostgreSQL where the database matters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from central.models import AuditEntry
from central.testing.centres import DATABASES, PASSWORD, add_users, api_key_for, open_centre
from central.testing.clients import login, page_csrf
from central.throttle import ACCOUNT, locked_for, record_failure
from central.users import DEMO_PASSWORD, add_user
from central.web import create_app
from roadguard.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path) as centre:
        add_users(centre)
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


def _cookie(client: TestClient) -> dict[str, str]:
    return {"roadguard_session": client.cookies["roadguard_session"]}


def test_a_cookie_copied_before_logout_opens_nothing_after_it(app) -> None:
    olga, token = login(app, "olga")
    copied = _cookie(olga)
    thief = TestClient(app, follow_redirects=False, cookies=copied)
    assert thief.get("/queue").status_code == 200
    assert olga.post("/logout", data={"csrf_token": token}).status_code == 303
    assert thief.get("/queue").status_code == 303  # to the login page
    assert thief.get("/api/v1/me").status_code == 401


def test_a_session_works_on_every_worker_with_the_configured_secret(centre) -> None:
    first, second = create_app(centre), create_app(centre)  # two workers, one database
    olga, _ = login(first, "olga")
    elsewhere = TestClient(second, follow_redirects=False, cookies=_cookie(olga))
    assert elsewhere.get("/api/v1/me").json()["username"] == "olga"


def test_deactivating_an_account_ends_its_sessions_and_keys_at_once(app, centre) -> None:
    walt, _ = login(app, "walt")
    key = api_key_for(centre, "walt")
    assert walt.get("/me").status_code == 200
    ada, token = login(app, "ada")
    page = ada.get("/admin/accounts")
    assert page.status_code == 200 and 'id="account-walt"' in page.text
    done = ada.post("/admin/accounts/walt/deactivate", data={"csrf_token": token})
    assert done.status_code == 303
    assert walt.get("/me").status_code == 303  # signed out, now
    open311 = TestClient(app).get("/open311/v2/requests.json", params={"api_key": key})
    assert open311.status_code == 401
    refused = TestClient(app).post(
        "/api/v1/session", json={"username": "walt", "password": PASSWORD}
    )
    assert refused.status_code == 401
    ada.post("/admin/accounts/walt/activate", data={"csrf_token": token})
    with centre.db.session() as session:
        rows = session.scalars(
            select(AuditEntry).where(AuditEntry.account == "walt").order_by(AuditEntry.id)
        ).all()
        assert [(r.reason, r.from_state, r.to_state, r.actor) for r in rows] == [
            ("deactivated", "active", "inactive", "ada"),
            ("activated", "inactive", "active", "ada"),
        ]
    assert "account deactivated" in ada.get("/admin/accounts").text
    assert login(app, "walt")[0].get("/me").status_code == 200


def test_only_an_admin_changes_accounts_and_not_their_own_activity(app) -> None:
    olga, token = login(app, "olga")
    assert olga.get("/admin/accounts").status_code == 403
    assert (
        olga.post("/admin/accounts/walt/deactivate", data={"csrf_token": token}).status_code == 403
    )
    ada, token = login(app, "ada")
    self_cut = ada.post("/admin/accounts/ada/deactivate", data={"csrf_token": token})
    assert self_cut.status_code == 422
    assert (
        ada.post("/admin/accounts/nobody/deactivate", data={"csrf_token": token}).status_code == 404
    )


def test_the_cli_sets_a_password_revokes_keys_and_it_is_audited(
    tmp_path, monkeypatch, capsys
) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"  # the database open_centre makes
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("ROADGUARD_DATA_DIR", str(tmp_path / "data"))
    with open_centre("sqlite", tmp_path) as centre:
        add_users(centre)
        app = create_app(centre, run_scheduler=False)
        olga, _ = login(app, "olga")
        key = api_key_for(centre, "walt")
        monkeypatch.setenv("NEW_PASSWORD", "a-brand-new-password")
        assert main(["central", "user", "password", "olga", "--password-env", "NEW_PASSWORD"]) == 0
        assert "1 session(s) ended" in capsys.readouterr().out
        assert olga.get("/queue").status_code == 303
        again = TestClient(app).post(
            "/api/v1/session", json={"username": "olga", "password": "a-brand-new-password"}
        )
        assert again.status_code == 200
        assert main(["central", "user", "revoke-keys", "walt"]) == 0
        assert "revoked 1 key(s) of walt" in capsys.readouterr().out
        gone = TestClient(app).get("/open311/v2/requests.json", params={"api_key": key})
        assert gone.status_code == 401
        assert main(["central", "user", "deactivate", "nobody"]) == 2
        with centre.db.session() as session:
            reasons = session.scalars(
                select(AuditEntry.reason).where(AuditEntry.subject == "account")
            ).all()
            actors = set(
                session.scalars(select(AuditEntry.actor).where(AuditEntry.subject == "account"))
            )
        assert reasons == ["password_set", "keys_revoked"]
        assert all(a.startswith("cli:") for a in actors)


def test_250_wrong_passwords_in_a_row_are_not_250_guesses(app, centre) -> None:
    guesser = TestClient(app, follow_redirects=False, client=("203.0.113.9", 4000))
    answers = [
        guesser.post("/api/v1/session", json={"username": "olga", "password": f"guess-{n}"})
        for n in range(250)
    ]
    statuses = [a.status_code for a in answers]
    assert statuses[:5] == [401] * 5 and set(statuses[5:]) == {429}  # 5 passwords tried
    assert 0 < int(answers[-1].headers["Retry-After"]) <= 15 * 60
    # Even the right password is not tried from there while it is locked...
    right = {"username": "olga", "password": PASSWORD}
    assert guesser.post("/api/v1/session", json=right).status_code == 429
    # ...but the officer at her own desk signs in: the guesser did not lock her out.
    desk = TestClient(app, follow_redirects=False, client=("10.1.2.3", 5000))
    assert desk.post("/api/v1/session", json=right).status_code == 200
    # The login page says so in words.
    form = TestClient(app, follow_redirects=False, client=("203.0.113.9", 4001))
    token = page_csrf(form.get("/login").text)
    page = form.post("/login", data={"username": "olga", "password": "x", "csrf_token": token})
    assert page.status_code == 429 and "Too many wrong passwords: try again in" in page.text


def test_guessers_on_many_addresses_lock_an_account_only_briefly(centre) -> None:
    now = centre.clock.now()
    with centre.db.session() as session:
        for n in range(300):
            record_failure(session, "olga", f"198.51.100.{n % 250}", now)
        assert 0 < locked_for(session, "olga", "10.1.2.3", now) <= ACCOUNT.longest_lock.seconds
    centre.clock.advance(seconds=ACCOUNT.longest_lock.seconds + 1)
    with centre.db.session() as session:
        assert locked_for(session, "olga", "10.1.2.3", centre.clock.now()) == 0


def _serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "roadguard", "central", "serve", "--port", "9", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ROADGUARD_SECRET")}
    return subprocess.run(
        argv, env={**clean, "PYTHONPATH": str(ROOT), **env}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip


def test_central_serve_refuses_no_secret_and_the_demo_password_unless_a_demo(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'central.db'}"  # the database open_centre makes
    env = {"DATABASE_URL": url, "ROADGUARD_DATA_DIR": str(tmp_path / "data")}
    no_secret = _serve(env)
    assert no_secret.returncode == 1 and "ROADGUARD_SECRET_KEY is not set" in no_secret.stderr
    with open_centre("sqlite", tmp_path) as centre, centre.db.session() as session:
        add_user(session, "officer", DEMO_PASSWORD, "officer", centre.clock.now())
    demo_password = _serve({**env, "ROADGUARD_SECRET_KEY": "a-real-secret-0123456789"})
    assert demo_password.returncode == 1
    assert "officer still have the demo password" in demo_password.stderr
    public_demo = _serve(env, "--demo", "--host", "0.0.0.0")
    assert public_demo.returncode == 1 and "127.0.0.1 only" in public_demo.stderr
