"""The web side through httpx's TestClient: login, roles, CSRF, the pages, the JSON API and
its OpenAPI description, CSV export, live-queue ETags."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from central.clock import FakeClock
from central.episodes.ingest import ingest_episode
from central.testing.centres import DATABASES, PASSWORD, add_users, open_centre
from central.testing.clients import login, page_csrf
from central.testing.records import episode_payload, ingest_violation, wav
from central.web import create_app


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path, review_window_s=600) as centre:
        add_users(centre)
        ingest_violation(centre, "ep-1")
        ingest_violation(centre, "ep-2", plate=None)
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


def test_pages_need_a_login_and_the_api_says_401(app):
    client = TestClient(app, follow_redirects=False)
    response = client.get("/queue?site=demo-node")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/queue%3Fsite%3Ddemo-node"
    assert client.get("/api/v1/reviews").status_code == 401
    assert client.get("/evidence/ep-1/warning1-frame.jpg").status_code == 303


def test_wrong_password_is_refused(app):
    client = TestClient(app, follow_redirects=False)
    token = page_csrf(client.get("/login").text)
    response = client.post(
        "/login", data={"username": "olga", "password": "nope-nope", "csrf_token": token}
    )
    assert response.status_code == 401
    assert "Wrong name or password" in response.text
    assert (
        client.post("/api/v1/session", json={"username": "nobody", "password": "x"}).status_code
        == 401
    )


def test_login_form_without_its_csrf_token_is_refused(app):
    client = TestClient(app, follow_redirects=False)
    client.get("/login")
    response = client.post("/login", data={"username": "olga", "password": PASSWORD})
    assert response.status_code == 403


def test_officer_sees_queue_and_evidence_and_tickets_with_one_click(app, centre):
    client, token = login(app, "olga")
    queue = client.get("/queue")
    assert queue.status_code == 200
    assert queue.text.index("ep-1") < queue.text.index("ep-2")  # deadline order
    event = client.get("/episodes/ep-1")
    assert event.status_code == 200
    for name in ("warning1-frame.jpg", "warning2-crop.jpg", "violation-frame.jpg"):
        assert f"/evidence/ep-1/{name}" in event.text
    assert "Warning 2: no parking at the school gate." in event.text
    picture = client.get("/evidence/ep-1/warning1-frame.jpg")
    assert picture.headers["content-type"] == "image/jpeg"
    assert picture.content[:2] == b"\xff\xd8"
    response = client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    assert response.status_code == 303
    assert response.headers["location"] == "/episodes/ep-2"  # straight on to the next one
    ticketed = client.get("/api/v1/episodes/ep-1").json()
    assert ticketed["state"] == "ticketed" and ticketed["decided_by"] == "olga"
    assert ticketed["audit"][-1]["actor"] == "olga"


def test_the_officer_can_play_each_warning_as_the_speaker_played_it(app, centre):
    ingest_violation(centre, "ep-voice", voices=True)
    client, _ = login(app, "olga")
    event = client.get("/episodes/ep-voice").text
    players = re.findall(r'<audio class="voice" controls preload="none" src="([^"]+)"', event)
    assert players == [
        "/evidence/ep-voice/warning1-voice.wav",
        "/evidence/ep-voice/warning2-voice.wav",
    ]
    clip = client.get(players[1])
    assert clip.headers["content-type"] == "audio/wav"
    assert clip.content == wav(hz=660.0)
    steps = client.get("/api/v1/episodes/ep-voice").json()["evidence"]
    assert steps[0]["voice"]["url"] == players[0]
    assert all(p["reference"].endswith(".jpg") for s in steps for p in s["pictures"])
    silent = client.get("/episodes/ep-1").text  # a node without a speaker: no player
    assert "<audio" not in silent


def test_a_post_without_the_csrf_token_changes_nothing(app):
    client, token = login(app, "olga")
    assert client.post("/episodes/ep-1/ticket", data={}).status_code == 403
    assert client.post("/episodes/ep-1/ticket", data={"csrf_token": "forged"}).status_code == 403
    assert client.post("/api/v1/episodes/ep-1/ticket", json={}).status_code == 403
    assert client.get("/api/v1/episodes/ep-1").json()["state"] == "pending_review"


def test_dismiss_from_the_page_needs_a_reason(app):
    client, token = login(app, "olga")
    refused = client.post("/episodes/ep-2/dismiss", data={"csrf_token": token})
    assert refused.status_code == 422
    assert "reason" in refused.text
    done = client.post(
        "/episodes/ep-2/dismiss", data={"csrf_token": token, "reason": "loading_permit"}
    )
    assert done.status_code == 303
    episode = client.get("/api/v1/episodes/ep-2").json()
    assert (episode["state"], episode["dismiss_reason"]) == ("dismissed", "loading_permit")


def test_a_warden_is_refused_review_pages_and_decisions(app):
    client, token = login(app, "walt")
    assert client.get("/queue").status_code == 403
    assert client.get("/episodes/ep-1").status_code == 403
    assert client.get("/evidence/ep-1/warning1-frame.jpg").status_code == 403
    assert client.post("/episodes/ep-1/ticket", data={"csrf_token": token}).status_code == 403
    api = client.post("/api/v1/episodes/ep-1/ticket", json={}, headers={"X-CSRF-Token": token})
    assert api.status_code == 403


def test_only_a_supervisor_sees_and_clears_the_escalated_queue(app, centre):
    from central.scheduler import DeadlineScheduler

    centre.clock.advance(seconds=601)
    assert sorted(DeadlineScheduler(centre).tick()) == ["ep-1", "ep-2"]
    officer, officer_token = login(app, "olga")
    assert officer.get("/escalated").status_code == 403
    assert "ep-1" not in officer.get("/queue").text
    read_only = officer.get("/episodes/ep-1")  # an officer may look, not decide
    assert read_only.status_code == 200 and 'id="ticket-button"' not in read_only.text
    assert "a supervisor decides it now" in read_only.text
    assert (
        officer.post("/episodes/ep-1/ticket", data={"csrf_token": officer_token}).status_code == 403
    )
    boss, boss_token = login(app, "sam")
    landing = boss.get("/")
    assert landing.status_code == 303 and landing.headers["location"] == "/escalated"
    escalated = boss.get("/escalated")
    assert escalated.status_code == 200 and "OVERDUE" in escalated.text
    assert boss.post("/episodes/ep-1/ticket", data={"csrf_token": boss_token}).status_code == 303
    assert boss.get("/api/v1/episodes/ep-1").json()["state"] == "ticketed"


def test_api_login_decisions_and_reasons(app):
    client = TestClient(app)
    session = client.post("/api/v1/session", json={"username": "olga", "password": PASSWORD})
    assert session.status_code == 200
    headers = {"X-CSRF-Token": session.json()["csrf_token"]}
    reviews = client.get("/api/v1/reviews").json()
    assert [r["id"] for r in reviews] == ["ep-1", "ep-2"]
    assert not any(r["overdue"] for r in reviews)
    reasons = client.get("/api/v1/dismiss-reasons").json()
    assert {r["code"] for r in reasons} >= {"wrong_vehicle", "exempt_vehicle", "other"}
    bad = client.post("/api/v1/episodes/ep-2/dismiss", json={"reason": "bored"}, headers=headers)
    assert bad.status_code == 422
    other = client.post("/api/v1/episodes/ep-2/dismiss", json={"reason": "other"}, headers=headers)
    assert other.status_code == 422
    ok = client.post(
        "/api/v1/episodes/ep-2/dismiss",
        json={"reason": "wrong_vehicle", "note": "van, not car"},
        headers=headers,
    )
    assert ok.status_code == 200 and ok.json()["state"] == "dismissed"
    assert client.post("/api/v1/episodes/ep-2/ticket", headers=headers).status_code == 409
    assert client.post("/api/v1/episodes/nope/ticket", headers=headers).status_code == 404


def test_openapi_describes_the_operations(app):
    paths = TestClient(app).get("/openapi.json").json()["paths"]
    for path in (
        "/api/v1/reviews",
        "/api/v1/episodes/{episode_id}/ticket",
        "/api/v1/episodes/{episode_id}/dismiss",
        "/api/v1/export/tickets.csv",
        "/api/v1/dashboard",
    ):
        assert path in paths
    assert "/queue" not in paths


def test_csv_export_of_tickets_and_dissuasions(app, centre):
    now = centre.clock.now()
    ingest_episode(centre, episode_payload("warned", "ep-d", warnings=1, at=now))
    ingest_episode(centre, episode_payload("dissuaded", "ep-d", warnings=1, at=now))
    client, token = login(app, "olga")
    client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    day = now.date().isoformat()
    tickets = client.get(f"/api/v1/export/tickets.csv?since={day}&until={day}")
    assert tickets.headers["content-type"].startswith("text/csv")
    assert tickets.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(tickets.content.decode("utf-8-sig"))))
    assert [(r["episode_id"], r["decided_by"], r["plate"]) for r in rows] == [
        ("ep-1", "olga", "沪A·12345")
    ]
    dissuasions = list(
        csv.DictReader(
            io.StringIO(
                client.get(
                    f"/api/v1/export/dissuasions.csv?since={day}&until={day}"
                ).content.decode("utf-8-sig")
            )
        )
    )
    assert [(r["episode_id"], r["warnings"]) for r in dissuasions] == [("ep-d", "1")]
    empty = client.get("/api/v1/export/tickets.csv?since=2020-01-01&until=2020-01-31")
    assert empty.text.count("\n") == 1  # header only
    assert client.get(f"/api/v1/export/tickets.csv?since={day}&until=2020-01-01").status_code == 422


def test_dashboard_counts(app, centre):
    now = centre.clock.now()
    ingest_episode(centre, episode_payload("dissuaded", "ep-d", warnings=1, at=now))
    ingest_episode(centre, episode_payload("expired", "ep-x", warnings=2, at=now))
    client, token = login(app, "olga")
    client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    board = client.get("/api/v1/dashboard").json()
    assert (board["dissuaded"], board["violations"], board["tickets"]) == (1, 2, 1)
    assert board["expired"] == 1  # counted apart: a car that never moved is no success
    assert board["dissuasion_rate"] == pytest.approx(1 / 3)
    assert board["overdue"] == 0
    page = client.get("/dashboard")
    assert page.status_code == 200 and 'id="rate">33 %' in page.text
    assert 'id="expired">1<' in page.text


def test_the_live_queue_answers_304_until_something_changes(app, centre):
    client, token = login(app, "olga")
    first = client.get("/queue/rows")
    etag = first.headers["etag"]
    assert client.get("/queue/rows", headers={"If-None-Match": etag}).status_code == 304
    centre.clock.advance(seconds=5)
    ingest_violation(centre, "ep-3", with_evidence=False)
    changed = client.get("/queue/rows", headers={"If-None-Match": etag})
    assert changed.status_code == 200 and "ep-3" in changed.text


def test_queue_filters(app, centre):
    ingest_violation(centre, "ep-x", node="other-node", camera="gate-cam", with_evidence=False)
    client, _ = login(app, "olga")
    only = client.get("/api/v1/reviews?site=other-node").json()
    assert [r["id"] for r in only] == ["ep-x"]
    assert [r["id"] for r in client.get("/api/v1/reviews?camera=kerb-cam").json()] == [
        "ep-1",
        "ep-2",
    ]
    day = centre.clock.now().date()
    assert client.get(f"/api/v1/reviews?since={day}&until={day}").json()
    assert client.get("/api/v1/reviews?since=2020-01-01&until=2020-01-02").json() == []
    assert client.get("/api/v1/reviews?since=yesterday").status_code == 422
    assert "ep-x" in client.get("/queue?site=other-node").text


def test_restart_escalates_overdue_reviews_before_serving(tmp_path):
    clock = FakeClock()
    with open_centre("sqlite", tmp_path, clock, review_window_s=600) as centre:
        add_users(centre)
        ingest_violation(centre, "ep-1", with_evidence=False)
    clock.advance(hours=1)
    with open_centre("sqlite", tmp_path, clock, review_window_s=600) as centre:
        app = create_app(centre)  # with its scheduler
        with TestClient(app) as client:
            client.post("/api/v1/session", json={"username": "sam", "password": PASSWORD})
            assert client.get("/api/v1/episodes/ep-1").json()["state"] == "escalated"


def test_metrics_show_the_review_backlog_and_what_is_overdue(app, centre):
    centre.clock.advance(seconds=centre.settings.review_window_s + 60)  # ep-1, ep-2 overdue
    ingest_violation(centre, "ep-fresh")
    text = TestClient(app, client=("127.0.0.1", 50000)).get("/metrics").text
    lines = set(text.splitlines())
    assert "roadguard_central_review_backlog 3.0" in lines
    assert "roadguard_central_reviews_overdue 2.0" in lines
    assert 'roadguard_central_episodes{state="pending_review"} 3.0' in lines


def test_history_searches_plates_pages_through_everything_and_offers_choices(app, centre):
    for n, plate in enumerate(["京A·6K327", "沪B·11111", "粤C·22222"]):
        ingest_violation(centre, f"ep-p{n}", plate=plate, with_evidence=False, camera=f"cam-{n}")
    client, _token = login(app, "olga")
    found = client.get("/episodes", params={"plate": " a6k3 "}).text  # spacing, case, no dot
    assert re.findall(r'href="/episodes/(ep-[\w-]+)"', found) == ["ep-p0"]
    assert client.get("/episodes", params={"plate": "%"}).text.count('href="/episodes/ep-') == 0

    # five episodes (ep-1, ep-2 and three above), two a page
    seen, url, pages = [], "/episodes?limit=2", 0
    while url:
        html = client.get(url).text
        seen += re.findall(r'<td><a href="/episodes/(ep-[\w-]+)"', html)
        pages += 1
        following = re.search(r'<a href="([^"]+)" id="next-page">', html)
        url = following.group(1).replace("&amp;", "&") if following else None
    assert pages == 3 and sorted(seen) == ["ep-1", "ep-2", "ep-p0", "ep-p1", "ep-p2"]
    assert "5–5 of 5" in html and 'id="previous-page"' in html

    choices = client.get("/episodes").text
    assert '<select name="camera">' in choices and re.search(r"<option\s*>cam-2</option>", choices)
    assert client.get("/api/v1/episodes", params={"plate": "沪b11"}).json()[0]["id"] == "ep-p1"


def test_the_dashboard_shows_one_chosen_period_for_violations_and_reports(app, centre):
    client, token = login(app, "olga")
    client.post("/episodes/ep-1/dismiss", data={"csrf_token": token, "reason": "wrong_vehicle"})
    today = centre.clock.now().date()
    page = client.get("/dashboard").text  # the last 14 days by default
    assert f"{today - timedelta(days=13)} – {today}" in page
    assert 'id="dismissed">1<' in page and 'id="legend"' in page
    assert "1 dismissed" in page  # in today's row

    earlier = client.get(
        "/dashboard",
        params={"since": str(today - timedelta(days=40)), "until": str(today - timedelta(days=10))},
    ).text
    assert 'id="violations">0<' in earlier and 'id="dismissed">0<' in earlier
    span = f"{today - timedelta(days=40)} – {today - timedelta(days=10)}"
    assert f'id="period">{span}<' in earlier and f'id="reports-period">{span}<' in earlier
    assert (
        client.get("/dashboard", params={"since": str(today), "until": "2020-01-01"}).status_code
        == 422
    )


def test_officers_see_which_review_a_colleague_has_open(app, centre):
    from central.users import add_user

    with centre.db.session() as session:
        add_user(session, "oscar", PASSWORD, "officer", centre.clock.now(), "王警官")
    olga, token = login(app, "olga")
    oscar, _token = login(app, "oscar")
    assert 'id="claimed"' not in olga.get("/episodes/ep-1").text  # nobody else had it open
    queue = oscar.get("/queue").text
    assert re.search(r'data-looking="ep-1">👁 Olga is looking', queue)
    assert 'data-looking="ep-2"' not in queue
    page = oscar.get("/episodes/ep-1").text
    assert 'id="claimed"' in page and "Olga is looking at this review" in page
    assert 'id="ticket-button"' in page  # informed, not locked out

    centre.clock.advance(seconds=121)  # the claim ran out
    assert "data-looking" not in oscar.get("/queue").text
    olga.get("/episodes/ep-1")  # opened again: renewed
    olga.post("/episodes/ep-1/ticket", data={"csrf_token": token})
    assert "data-looking" not in oscar.get("/queue").text  # decided: nobody is looking


def test_an_admin_adds_an_account_and_the_document_names_the_roles(app):
    ada, token = login(app, "ada")
    body = {"username": "xiao", "password": "a-long-password", "role": "warden"}
    made = ada.post("/api/v1/users", json=body, headers={"X-CSRF-Token": token})
    assert made.status_code == 201 and made.json()["role"] == "warden"
    wrong = ada.post(
        "/api/v1/users", json={**body, "username": "x2", "role": "mayor"},
        headers={"X-CSRF-Token": token},
    )  # fmt: skip
    assert wrong.status_code == 422
    document = ada.get("/openapi.json").json()
    role = document["components"]["schemas"]["UserIn"]["properties"]["role"]
    target = document["components"]["schemas"][role["$ref"].rsplit("/", 1)[1]]
    assert target["enum"] == ["officer", "supervisor", "warden", "admin"]
