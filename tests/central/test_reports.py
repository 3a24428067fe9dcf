"""Warden reports through the Open311 GeoReport v2 API (on SQLite and PostgreSQL): services
and their typed attributes, filing with a photo (EXIF GPS) or JSON, every kind of bad input
refused with Open311's error list and nothing stored, the list filters, and role checks."""

from __future__ import annotations

import io
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from central.models import AuditEntry, WardenReport
from central.reports.categories import ReportsConfig
from central.reports.media import jpeg_with_gps
from central.testing.centres import (
    DATABASES,
    PASSWORD,
    add_report_users,
    api_key_for,
    open_centre,
    stored_files,
)
from central.web import create_app

HERE = (31.093712, 121.248388)  # where the test photos say they were taken


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    reports = ReportsConfig(max_media_bytes=60_000)
    with open_centre(request.param, tmp_path, reports=reports) as centre:
        add_report_users(centre)
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


@pytest.fixture
def walt(app, centre):
    """The warden's Open311 client, by API key."""
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {api_key_for(centre, 'walt')}"
    return client


def session_client(app, username: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    response = client.post("/api/v1/session", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200
    return client, response.json()["csrf_token"]


ACCIDENT = {
    "service_code": "accident",
    "description": "Two cars at the bridge",
    "attribute[injured]": "light",
    "attribute[vehicles]": "2",
    "attribute[road_blocked]": "partly",
}


def _photo(lat: float | None = HERE[0], lon: float | None = HERE[1], **kwargs) -> dict:
    return {"media": ("IMG_0001.jpg", jpeg_with_gps(lat, lon, **kwargs), "image/jpeg")}


def _rows(centre) -> int:
    with centre.db.session() as session:
        return session.scalar(select(func.count()).select_from(WardenReport))


def _assert_open311_error(response, status: int, *words: str) -> None:
    assert response.status_code == status, response.text
    errors = response.json()
    assert isinstance(errors, list) and errors
    assert all(set(e) == {"code", "description"} and e["code"] == status for e in errors)
    text = " ".join(e["description"] for e in errors)
    for word in words:
        assert word in text, text


def test_services_and_their_typed_attributes(app):
    client = TestClient(app)
    services = client.get("/open311/v2/services.json").json()
    codes = [s["service_code"] for s in services]
    assert codes == [
        "drunk_driving",
        "accident",
        "road_hazard",
        "illegal_parking",
        "overloaded_vehicle",
        "no_helmet",
        "dissuasion",
        "other",
    ]
    drunk = services[0]
    assert drunk["service_name"] == "Suspected drunk driving"
    assert drunk["metadata"] is True and drunk["type"] == "realtime"
    assert {"keywords", "group", "description"} <= set(drunk)
    assert drunk["urgency"] == "urgent"
    assert {s["service_code"]: s["urgency"] for s in services}["illegal_parking"] == "normal"
    definition = client.get("/open311/v2/services/accident.json").json()
    assert definition["service_code"] == "accident"
    attrs = {a["code"]: a for a in definition["attributes"]}
    assert attrs["injured"]["datatype"] == "singlevaluelist"
    assert {v["key"] for v in attrs["injured"]["values"]} == {"none", "light", "serious", "unknown"}
    assert attrs["vehicles"]["datatype"] == "number" and attrs["vehicles"]["required"] is True
    assert [a["order"] for a in definition["attributes"]] == [1, 2, 3]
    dissuasion = client.get("/open311/v2/services/dissuasion.json").json()
    happened = next(a for a in dissuasion["attributes"] if a["code"] == "happened_at")
    assert (happened["datatype"], happened["required"]) == ("datetime", False)
    _assert_open311_error(client.get("/open311/v2/services/nope.json"), 404, "nope")


def test_a_warden_files_an_urgent_report_with_a_photo(walt, centre):
    response = walt.post("/open311/v2/requests.json", data=ACCIDENT, files=_photo())
    assert response.status_code == 201, response.text
    [created] = response.json()
    assert set(created) == {"service_request_id", "service_notice", "account_id"}
    rid = created["service_request_id"]
    [report] = walt.get(f"/open311/v2/requests/{rid}.json").json()
    assert report["status"] == "open" and report["service_code"] == "accident"
    assert (report["lat"], report["long"]) == pytest.approx(HERE, abs=1e-5)
    assert report["extended_attributes"]["location_source"] == "exif"
    assert report["extended_attributes"]["state"] == "new"
    assert report["extended_attributes"]["attributes"] == {
        "injured": "light",
        "vehicles": 2,
        "road_blocked": "partly",
    }
    assert report["extended_attributes"]["squad"] == "north"
    assert report["agency_responsible"] == "north"
    # Urgent: the acknowledgement deadline is the category's 3 minutes.
    requested = report["requested_datetime"]
    assert report["expected_datetime"] > requested
    assert report["media_url"].endswith(f"/reports/{rid}/media")
    photo = walt.get(report["media_url"])
    assert photo.status_code == 200 and photo.headers["content-type"] == "image/jpeg"
    assert photo.content[:2] == b"\xff\xd8"
    with centre.db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.report_id == int(rid))).all()
        assert [(a.from_state, a.to_state, a.actor, a.reason) for a in audit] == [
            (None, "new", "walt", "filed")
        ]


def test_the_phone_position_is_used_when_the_photo_has_none(walt):
    data = {**ACCIDENT, "lat": "30.5", "long": "120.25"}
    response = walt.post("/open311/v2/requests.json", data=data, files=_photo(None, None))
    rid = response.json()[0]["service_request_id"]
    [report] = walt.get(f"/open311/v2/requests/{rid}.json").json()
    assert (report["lat"], report["long"]) == (30.5, 120.25)
    assert report["extended_attributes"]["location_source"] == "device"


def test_json_without_media_and_a_typed_place(walt):
    body = {
        "service_code": "illegal_parking",
        "address_string": "Xiaowan school gate",
        "attributes": {"plate": "浙A·12345", "blocking": "junction"},
    }
    response = walt.post("/open311/v2/requests.json", json=body)
    assert response.status_code == 201, response.text
    [report] = walt.get(
        f"/open311/v2/requests/{response.json()[0]['service_request_id']}.json"
    ).json()
    assert report["address"] == "Xiaowan school gate" and report["lat"] is None
    assert report["media_url"] is None and report["expected_datetime"] is None  # not urgent
    assert report["extended_attributes"]["location_source"] == "typed"


def test_an_illegally_parked_car_whose_plate_could_not_be_read(walt):
    """The plate field's hint says "leave out what you could not read": it is optional."""
    body = {
        "service_code": "illegal_parking",
        "address_string": "Xiaowan school gate",
        "attributes": {"blocking": "junction"},
    }
    response = walt.post("/open311/v2/requests.json", json=body)
    assert response.status_code == 201, response.text


@pytest.mark.parametrize(
    ("data", "files", "status", "words"),
    [
        ({k: v for k, v in ACCIDENT.items() if k != "service_code"}, None, 400, ["service_code"]),
        ({**ACCIDENT, "service_code": "ufo"}, None, 400, ["service_code", "ufo"]),
        (ACCIDENT, None, 400, ["location"]),
        ({**ACCIDENT, "attribute[injured]": ""}, "photo", 400, ["attribute[injured]"]),
        ({**ACCIDENT, "attribute[vehicles]": "many"}, "photo", 400, ["not a number"]),
        ({**ACCIDENT, "attribute[color]": "red"}, "photo", 400, ["attribute[color]"]),
        ({**ACCIDENT, "lat": "91", "long": "10"}, None, 400, ["lat"]),
        ({**ACCIDENT, "lat": "30"}, None, 400, ["lat and long"]),
        ({**ACCIDENT, "address_string": "bridge"}, "text", 415, ["not a photo"]),
        ({**ACCIDENT, "address_string": "bridge"}, "truncated", 415, ["decoded"]),
        ({**ACCIDENT, "address_string": "bridge"}, "big", 413, ["limit"]),
        ({**ACCIDENT, "address_string": "bridge"}, "huge", 413, ["limit"]),
    ],
    ids=[
        "no-service-code",
        "unknown-service-code",
        "no-location",
        "missing-attribute",
        "mistyped-attribute",
        "unknown-attribute",
        "lat-out-of-range",
        "lat-without-long",
        "not-an-image",
        "truncated-jpeg",
        "oversize",
        "oversize-by-header",
    ],
)
def test_bad_input_is_refused_and_nothing_is_stored(
    walt, centre, tmp_path, data, files, status, words
):
    good = jpeg_with_gps(*HERE)
    uploads = {
        None: None,
        "photo": _photo(),
        # Named and typed like a photo: only decoding tells it is not one.
        "text": {"media": ("photo.jpg", b"GIF89a? no: " + b"x" * 500, "image/jpeg")},
        "truncated": {"media": ("photo.jpg", good[: len(good) // 2], "image/jpeg")},
        # Over the 60 kB limit of this centre, but a valid JPEG.
        "big": {"media": ("photo.jpg", _noisy_jpeg(70_000), "image/jpeg")},
        "huge": {"media": ("photo.jpg", b"\xff\xd8" + b"\0" * 400_000, "image/jpeg")},
    }[files]
    response = walt.post("/open311/v2/requests.json", data=data, files=uploads)
    _assert_open311_error(response, status, *words)
    assert _rows(centre) == 0
    assert stored_files(tmp_path / "evidence") == []


def _noisy_jpeg(at_least: int) -> bytes:
    import random

    from PIL import Image

    rng = random.Random(7)
    side = 200
    while True:
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        out = io.BytesIO()
        image.save(out, "JPEG", quality=95)
        if out.tell() >= at_least:
            return out.getvalue()
        side += 60


def test_a_database_failure_leaves_no_orphan_photo(walt, centre, tmp_path, monkeypatch):
    import central.reports.filing as filing

    def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(filing, "move", broken)
    client = TestClient(walt.app, raise_server_exceptions=False)
    client.headers.update(walt.headers)
    response = client.post("/open311/v2/requests.json", data=ACCIDENT, files=_photo())
    assert response.status_code == 500
    assert _rows(centre) == 0
    assert stored_files(tmp_path / "evidence") == []


def test_json_errors_are_open311_shaped(walt):
    _assert_open311_error(
        walt.post("/open311/v2/requests.json", json={"lat": 30, "long": 120}), 400, "service_code"
    )
    _assert_open311_error(
        walt.post(
            "/open311/v2/requests.json",
            content=b"{nope",
            headers={"content-type": "application/json"},
        ),
        400,
        "JSON",
    )
    _assert_open311_error(
        walt.post(
            "/open311/v2/requests.json",
            json={**ACCIDENT, "lat": 30, "long": 120, "media_url": "http://x/y.jpg"},
        ),
        400,
        "media_url",
    )


def test_who_may_file(app, centre):
    anonymous = TestClient(app)
    _assert_open311_error(anonymous.post("/open311/v2/requests.json", data=ACCIDENT), 401)
    _assert_open311_error(anonymous.get("/open311/v2/requests.json"), 401)
    _assert_open311_error(
        anonymous.get("/open311/v2/requests.json", params={"api_key": "rgk_forged"}), 401
    )
    # The web session works too, with its CSRF token, like every POST of the centre.
    browser, token = session_client(app, "walt")
    data = {**ACCIDENT, "address_string": "bridge"}
    _assert_open311_error(browser.post("/open311/v2/requests.json", data=data), 403, "CSRF")
    ok = browser.post("/open311/v2/requests.json", data=data, headers={"X-CSRF-Token": token})
    assert ok.status_code == 201
    # An api_key form field (Open311's own way) works as well.
    key = api_key_for(centre, "wendy")
    assert (
        TestClient(app).post("/open311/v2/requests.json", data={**data, "api_key": key}).status_code
        == 201
    )
    # Officers handle reports; they do not file them.
    officer, officer_token = session_client(app, "olga")
    refused = officer.post(
        "/open311/v2/requests.json", data=data, headers={"X-CSRF-Token": officer_token}
    )
    _assert_open311_error(refused, 403)
    assert _rows(centre) == 2


def _file(client, **extra) -> str:
    data = {**ACCIDENT, "address_string": "bridge", **extra}
    response = client.post("/open311/v2/requests.json", data=data)
    assert response.status_code == 201, response.text
    return response.json()[0]["service_request_id"]


def test_a_warden_sees_only_their_own_reports_and_cannot_act_on_them(app, centre, walt):
    mine = _file(walt)
    wendy = TestClient(app, headers={"Authorization": f"Bearer {api_key_for(centre, 'wendy')}"})
    theirs = _file(wendy)
    assert [r["service_request_id"] for r in walt.get("/open311/v2/requests.json").json()] == [mine]
    _assert_open311_error(walt.get(f"/open311/v2/requests/{theirs}.json"), 404)
    assert walt.get(f"/reports/{theirs}/media").status_code in (401, 404)

    browser, token = session_client(app, "walt")
    for action in ("acknowledge", "dispatch", "resolve", "reject"):
        refused = browser.post(
            f"/api/v1/reports/{mine}/{action}", json={"note": "x"}, headers={"X-CSRF-Token": token}
        )
        assert refused.status_code == 403, action
    assert browser.get("/reports/inbox").status_code == 403
    assert browser.get("/reports/escalated").status_code == 403
    [report] = walt.get(f"/open311/v2/requests/{mine}.json").json()
    assert report["extended_attributes"]["state"] == "new"


def test_officers_act_within_their_squad_and_every_step_is_audited(app, centre, walt):
    rid = _file(walt)  # squad north
    south, south_token = session_client(app, "oscar")
    assert south.get("/open311/v2/requests.json").json() == []
    refused = south.post(
        f"/api/v1/reports/{rid}/acknowledge", headers={"X-CSRF-Token": south_token}
    )
    assert refused.status_code == 404  # as reading it: ids and squads cannot be probed
    assert south.get(f"/reports/{rid}").status_code == 404
    north, token = session_client(app, "olga")
    headers = {"X-CSRF-Token": token}
    assert [r["service_request_id"] for r in north.get("/open311/v2/requests.json").json()] == [rid]
    centre.clock.advance(seconds=40)
    ack = north.post(f"/api/v1/reports/{rid}/acknowledge", headers=headers)
    assert ack.status_code == 200, ack.text
    assert ack.json()["extended_attributes"]["acknowledged_by"] == "olga"
    assert ack.json()["expected_datetime"] is None  # no more deadline
    assert north.post(f"/api/v1/reports/{rid}/acknowledge", headers=headers).status_code == 409
    assert north.post(f"/api/v1/reports/{rid}/reject", json={}, headers=headers).status_code == 422
    north.post(f"/api/v1/reports/{rid}/dispatch", headers=headers)
    centre.clock.advance(seconds=600)
    done = north.post(
        f"/api/v1/reports/{rid}/resolve", json={"note": "towed away"}, headers=headers
    )
    assert done.json()["status"] == "closed"
    assert done.json()["status_notes"] == "towed away"
    with centre.db.session() as session:
        audit = session.scalars(
            select(AuditEntry).where(AuditEntry.report_id == int(rid)).order_by(AuditEntry.id)
        ).all()
        assert [(a.to_state, a.actor, a.reason) for a in audit] == [
            ("new", "walt", "filed"),
            ("acknowledged", "olga", "acknowledge"),
            ("dispatched", "olga", "dispatch"),
            ("resolved", "olga", "resolve"),
        ]
    assert north.post(f"/api/v1/reports/{rid}/nope", headers=headers).status_code == 404


def test_list_filters(app, centre, walt):
    first = _file(walt)
    centre.clock.advance(hours=2)
    second = walt.post(
        "/open311/v2/requests.json",
        json={"service_code": "other", "lat": 31, "long": 121, "attribute[subject]": "a dog"},
    ).json()[0]["service_request_id"]
    officer, token = session_client(app, "olga")
    officer.post(f"/api/v1/reports/{first}/resolve", headers={"X-CSRF-Token": token})

    def ids(**params) -> list[str]:
        response = walt.get("/open311/v2/requests.json", params=params)
        assert response.status_code == 200, response.text
        return [r["service_request_id"] for r in response.json()]

    assert ids() == [second, first]  # newest first
    assert ids(service_code="accident") == [first]
    assert ids(status="open") == [second]
    assert ids(status="closed") == [first]
    assert ids(status="resolved") == [first]
    start = (centre.clock.now() - timedelta(hours=1)).isoformat()
    assert ids(start_date=start) == [second]
    assert ids(end_date=start) == [first]
    assert ids(service_request_id=f"{first},{second}") == [second, first]
    _assert_open311_error(
        walt.get("/open311/v2/requests.json", params={"start_date": "yesterday"}), 400
    )
    _assert_open311_error(walt.get("/open311/v2/requests.json", params={"status": "bored"}), 400)


def test_the_web_form_keeps_what_was_typed_when_it_is_refused(app, centre):
    client = TestClient(app, follow_redirects=False)
    token = re.search(r'name="csrf-token" content="([^"]+)"', client.get("/login").text).group(1)
    client.post("/login", data={"username": "walt", "password": PASSWORD, "csrf_token": token})
    form = client.get("/reports/new")
    assert form.status_code == 200
    assert 'capture="environment"' in form.text and 'accept="image/*"' in form.text
    token = re.search(r'name="csrf-token" content="([^"]+)"', form.text).group(1)
    typed = {
        "csrf_token": token,
        "service_code": "drunk_driving",
        "attribute[vehicle]": "white pickup",
        "description": "Swerving past the school",
    }
    refused = client.post("/reports/new", data=typed)
    assert refused.status_code == 400
    assert "white pickup" in refused.text and "Swerving past the school" in refused.text
    assert "attribute[behaviour]" in refused.text and "location" in refused.text
    assert 'value="drunk_driving" id="cat-drunk_driving"\n             checked' in refused.text
    typed.update({"attribute[behaviour]": "swerving", "lat": "31.1", "long": "121.2"})
    sent = client.post("/reports/new", data=typed, files=_photo(None, None))
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/me?filed=")
    mine = client.get(sent.headers["location"])
    assert "Suspected drunk driving" in mine.text and "data-filed" in mine.text
    assert client.post("/reports/new", data={"service_code": "other"}).status_code == 403  # CSRF
