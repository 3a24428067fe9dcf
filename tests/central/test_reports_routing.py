"""Routing of urgent warden reports with a fake clock: the squad is alerted at once, an
unacknowledged report escalates to the supervisor at its deadline and to the admin after a
further one; acknowledged reports never escalate. Plus statistics, CSV, per-county categories
and the CLI (SQLite and PostgreSQL)."""

from __future__ import annotations

import csv
import io

import pytest
from fastapi.testclient import TestClient

from central.reports.alerts import RecordingAlerts
from central.reports.categories import DEFAULT_CATEGORIES_FILE, ReportCategories, ReportsConfig
from central.reports.filing import Submission, file_report
from central.roles import Actor
from central.scheduler import DeadlineScheduler
from central.testing.centres import DATABASES, PASSWORD, add_report_users, open_centre
from central.web import create_app
from configbase import InvalidFile

WALT = Actor("walt", "warden", squad="north", township="Xiaowan")
WENDY = Actor("wendy", "warden", squad="south", township="Dongcun")


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path) as centre:
        add_report_users(centre)
        centre.alerts = RecordingAlerts()
        yield centre


def _hazard(centre, reporter=WALT) -> int:
    document = file_report(
        centre,
        reporter,
        Submission(
            service_code="road_hazard",
            address_string="county road 12, km 4",
            attributes={"hazard": "landslide", "road_blocked": "yes"},
        ),
    )
    return int(document["service_request_id"])


def _state(client, rid) -> dict:
    return client.get(f"/open311/v2/requests/{rid}.json").json()[0]


def _login(app, username):
    client = TestClient(app)
    token = client.post(
        "/api/v1/session", json={"username": username, "password": PASSWORD}
    ).json()["csrf_token"]
    return client, {"X-CSRF-Token": token}


def test_urgent_reports_alert_the_squad_and_escalate_up_the_chain(centre):
    app = create_app(centre, run_scheduler=False)
    scheduler = DeadlineScheduler(centre)
    rid = _hazard(centre)
    assert centre.deadlines_changed.is_set()  # the scheduler re-plans its wait
    [(topic, alert)] = centre.alerts.sent
    assert topic == "roadguard/v1/central/alerts/north"
    assert alert["event"] == "new" and alert["report"]["service_request_id"] == str(rid)

    olga, _ = _login(app, "olga")
    inbox = olga.get("/reports/inbox")
    assert f'data-report="{rid}"' in inbox.text and "urgent-banner" in inbox.text
    oscar, _ = _login(app, "oscar")  # the other squad does not see it
    assert f'data-report="{rid}"' not in oscar.get("/reports/inbox").text

    centre.clock.advance(seconds=179)
    scheduler.tick()
    assert _state(olga, rid)["extended_attributes"]["escalation_level"] == 0
    centre.clock.advance(seconds=2)
    scheduler.tick()
    report = _state(olga, rid)
    assert report["extended_attributes"]["escalated_to"] == "supervisor"
    assert report["extended_attributes"]["state"] == "new"
    assert centre.alerts.sent[-1][1]["event"] == "escalated"

    sam, sam_headers = _login(app, "sam")
    assert f'data-report="{rid}"' in sam.get("/reports/escalated").text
    ada, _ = _login(app, "ada")
    assert f'data-report="{rid}"' not in ada.get("/reports/escalated").text
    assert olga.get("/reports/escalated").status_code == 403

    centre.clock.advance(seconds=181)
    scheduler.tick()
    assert _state(olga, rid)["extended_attributes"]["escalated_to"] == "admin"
    assert f'data-report="{rid}"' in ada.get("/reports/escalated").text
    centre.clock.advance(hours=1)
    scheduler.tick()  # the top of the chain: nothing further
    assert _state(olga, rid)["extended_attributes"]["escalation_level"] == 2
    assert len(centre.alerts.sent) == 3

    # An escalated report can still be acknowledged, by the supervisor too.
    response = sam.post(f"/api/v1/reports/{rid}/acknowledge", headers=sam_headers)
    assert response.status_code == 200
    page = sam.get(f"/reports/{rid}").text
    assert "escalated" in page and "to supervisor" in page and "to admin" in page


def test_an_acknowledged_report_never_escalates(centre):
    app = create_app(centre, run_scheduler=False)
    rid = _hazard(centre)
    olga, headers = _login(app, "olga")
    centre.clock.advance(seconds=60)
    assert olga.post(f"/api/v1/reports/{rid}/acknowledge", headers=headers).status_code == 200
    centre.clock.advance(hours=1)
    DeadlineScheduler(centre).tick()
    report = _state(olga, rid)
    assert report["extended_attributes"]["escalation_level"] == 0
    assert len(centre.alerts.sent) == 1


def test_normal_reports_have_no_deadline_and_dissuasions_are_filed_resolved(centre):
    parked = file_report(
        centre,
        WALT,
        Submission(
            service_code="illegal_parking",
            lat=31,
            long=121,
            attributes={"plate": "AB123", "blocking": "lane"},
        ),
    )
    assert parked["expected_datetime"] is None and centre.alerts.sent == []
    talked = file_report(
        centre,
        WALT,
        Submission(
            service_code="dissuasion",
            address_string="market",
            attributes={"about": "no_helmet", "persons": "2"},
        ),
    )
    assert talked["status"] == "closed"
    assert talked["extended_attributes"]["state"] == "resolved"


def test_the_scheduler_thread_escalates_on_the_fake_clock(centre):
    scheduler = DeadlineScheduler(centre)
    scheduler.start()
    try:
        rid = _hazard(centre)
        centre.clock.advance(seconds=181)
        with scheduler.ticked:
            assert scheduler.ticked.wait_for(lambda: _level(centre, rid) == 1, timeout=10)
    finally:
        scheduler.stop()


def _level(centre, rid) -> int:
    from central.models import WardenReport

    with centre.db.session() as session:
        return session.get(WardenReport, rid).escalation_level


def test_statistics_per_warden_township_and_category_with_csv(centre):
    app = create_app(centre, run_scheduler=False)
    olga, headers = _login(app, "olga")
    oscar, oscar_headers = _login(app, "oscar")
    first = _hazard(centre)
    centre.clock.advance(seconds=60)
    olga.post(f"/api/v1/reports/{first}/acknowledge", headers=headers)
    centre.clock.advance(seconds=540)
    olga.post(f"/api/v1/reports/{first}/resolve", headers=headers)
    second = _hazard(centre, WENDY)
    centre.clock.advance(seconds=120)
    oscar.post(f"/api/v1/reports/{second}/acknowledge", headers=oscar_headers)
    file_report(
        centre,
        WALT,
        Submission(
            service_code="dissuasion",
            address_string="market",
            attributes={"about": "drunk_driving", "persons": 1},
        ),
    )
    stats = olga.get("/api/v1/reports/stats").json()
    assert stats["total"]["reports"] == 3 and stats["total"]["dissuasions_on_the_spot"] == 1
    assert stats["total"]["mean_ack_s"] == pytest.approx(90)
    wardens = {row["key"]: row for row in stats["warden"]}
    assert wardens["walt"]["reports"] == 2 and wardens["walt"]["dissuasions_on_the_spot"] == 1
    assert wardens["walt"]["mean_ack_s"] == 60 and wardens["walt"]["mean_resolve_s"] == 600
    assert wardens["wendy"]["median_ack_s"] == 120 and wardens["wendy"]["open"] == 1
    townships = {row["key"]: row["reports"] for row in stats["township"]}
    assert townships == {"Xiaowan": 2, "Dongcun": 1}
    categories = {row["key"]: row["reports"] for row in stats["category"]}
    assert categories == {"Road hazard": 2, "Dissuasion done on the spot": 1}

    day = centre.clock.now().date().isoformat()
    exported = olga.get(f"/api/v1/export/reports.csv?since={day}&until={day}")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.content.startswith(b"\xef\xbb\xbf")  # the BOM: Excel reads it as UTF-8
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    by = {(r["grouping"], r["key"]): r for r in rows}
    assert by[("warden", "walt")]["dissuasions_on_the_spot"] == "1"
    assert by[("township", "Dongcun")]["median_ack_s"] == "120.0"
    assert by[("total", "all")]["reports"] == "3"
    dashboard = olga.get("/dashboard").text
    assert 'id="reports-total">3<' in dashboard and 'id="reports-dissuasions">1<' in dashboard
    walt = TestClient(app)
    walt.post("/api/v1/session", json={"username": "walt", "password": PASSWORD})
    assert walt.get("/api/v1/reports/stats").status_code == 403
    assert walt.get(f"/api/v1/export/reports.csv?since={day}&until={day}").status_code == 403


def test_a_county_configures_its_own_categories_in_yaml(tmp_path):
    shipped = ReportCategories.from_yaml(DEFAULT_CATEGORIES_FILE)
    county = shipped.model_copy(
        update={
            "county": "Hilltop",
            "categories": [
                c.model_copy(update={"ack_deadline_s": 60}) if c.code == "road_hazard" else c
                for c in shipped.categories
                if c.code != "illegal_parking"  # no kerbs to park at up there
            ],
        }
    )
    path = tmp_path / "hilltop.yaml"
    path.write_text(county.to_yaml())
    with open_centre("sqlite", tmp_path, reports=ReportsConfig(categories_file=path)) as centre:
        codes = [
            s["service_code"]
            for s in TestClient(create_app(centre, run_scheduler=False))
            .get("/open311/v2/services.json")
            .json()
        ]
        assert "illegal_parking" not in codes and "road_hazard" in codes
        add_report_users(centre)
        rid = _hazard(centre)
        centre.clock.advance(seconds=61)
        DeadlineScheduler(centre).tick()
        assert _level(centre, rid) == 1

    path.write_text(
        "categories:\n- code: flood\n  name: Flood\n  attributes:\n"
        "  - {code: depth, description: Depth, datatype: singlevaluelist}\n"
    )
    with pytest.raises(InvalidFile) as caught:
        ReportCategories.from_yaml(path)
    assert (  # names the file, the line and the attribute
        f"{path}:5: categories.0.attributes.0: category 'flood', attribute 'depth': "
        "a singlevaluelist needs `values`"
    ) in str(caught.value)


def test_cli_adds_wardens_to_a_squad_and_mints_api_keys(tmp_path, monkeypatch, capsys):
    from roadguard.cli import main

    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    monkeypatch.setenv("ROADGUARD_EVIDENCE_DIR", str(tmp_path / "evidence"))
    monkeypatch.setenv("RG_PW", PASSWORD)
    base = ["central", "user", "add", "wu", "--role", "warden", "--password-env", "RG_PW"]
    assert main([*base, "--township", "Xiaowan", "--squad", "north"]) == 0
    assert (
        main(
            [
                "central",
                "user",
                "add",
                "bad",
                "--role",
                "warden",
                "--password-env",
                "RG_PW",
                "--squad",
                "north/#",
            ]
        )
        == 2
    )
    assert "squad name" in capsys.readouterr().out
    assert main(["central", "user", "token", "wu", "--label", "phone"]) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert key.startswith("rgk_")
    from central.centre import Centre
    from central.config import CentralSettings

    centre = Centre.open(CentralSettings())
    try:
        client = TestClient(create_app(centre, run_scheduler=False))
        response = client.get("/open311/v2/requests.json", params={"api_key": key})
        assert response.status_code == 200 and response.json() == []
    finally:
        centre.close()
    assert main(["central", "categories"]) == 0
    assert "drunk_driving" in capsys.readouterr().out


def test_the_warden_sees_what_the_officers_did_with_their_notes(centre):
    from central.testing.clients import login

    rid = _hazard(centre)
    app = create_app(centre, run_scheduler=False)
    olga, token = login(app, "olga")
    olga.post(f"/reports/{rid}/acknowledge", data={"csrf_token": token})
    assert 'id="dispatch-note"' in olga.get(f"/reports/{rid}").text  # dispatch takes a note
    centre.clock.advance(minutes=5)
    note = "Road crew on the way; cones placed at km 4."
    olga.post(f"/reports/{rid}/dispatch", data={"csrf_token": token, "note": note})

    walt, _token = login(app, "walt")
    mine = walt.get("/me").text
    update = mine[mine.index(f'data-update="{rid}"') :].split("</span>")[0]
    assert "dispatched by Olga" in update and note in update
    assert "2026-03-02 16:05:00" in update  # the officer's time, on the deployment's clock
