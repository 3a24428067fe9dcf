"""The map: sites from the county's sites file with their open violations, open field
reports with a place (as far as the viewer may see them), the map library served by the
centre itself, and the open reports near a place that the warden's form shows while filing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from central.config import CentralSettings
from central.places import MapConfig, box_around, distance_m
from central.reports.filing import Submission, file_report
from central.reports.workflow import act
from central.roles import Actor
from central.testing.centres import add_report_users, open_centre
from central.testing.clients import login
from central.testing.records import ingest_violation
from central.web import create_app
from configbase.yaml_files import InvalidFile

SCHOOL = (30.101000, 120.201000)
SITES = """\
sites:
- node_id: demo-node
  name: 城关小学门口
  lat: 30.101
  long: 120.201
- node_id: gate-7
  name: 东门菜场
  lat: 30.105
  long: 120.21
"""


def north_of(place: tuple[float, float], metres: float) -> tuple[float, float]:
    return place[0] + metres / 111_195.0, place[1]


def file_at(centre, reporter: str, place: tuple[float, float] | None, code: str = "road_hazard"):
    role, township, squad = {"walt": ("warden", "Xiaowan", "north"),
                             "wendy": ("warden", "Dongcun", "south")}[reporter]  # fmt: skip
    actor = Actor(reporter, role, squad=squad, township=township)
    answers = {"hazard": "fallen_tree", "road_blocked": "partly"} if code == "road_hazard" else {}
    sub = Submission(
        service_code=code,
        description=f"by {reporter}",
        lat=str(place[0]) if place else None,
        long=str(place[1]) if place else None,
        address_string=None if place else "the old bridge",
        attributes=answers,
    )
    return int(file_report(centre, actor, sub)["service_request_id"])


@pytest.fixture
def centre(tmp_path: Path):
    sites = tmp_path / "sites.yaml"
    sites.write_text(SITES, encoding="utf-8")
    with open_centre("sqlite", tmp_path, map=MapConfig(sites_file=sites)) as centre:
        add_report_users(centre)
        yield centre


@pytest.fixture
def app(centre):
    return create_app(centre, run_scheduler=False)


def test_the_officers_map_has_the_sites_with_their_open_violations_and_the_open_reports(
    centre, app
) -> None:
    ingest_violation(centre, "ep-1", node="demo-node")
    ingest_violation(centre, "ep-2", node="demo-node")
    near_school = file_at(centre, "walt", north_of(SCHOOL, 120))
    typed_only = file_at(centre, "walt", None)
    south = file_at(centre, "wendy", north_of(SCHOOL, 300))  # squad south: not olga's
    closed = file_at(centre, "walt", north_of(SCHOOL, 50))
    with centre.db.session() as session:
        officer = Actor("olga", "officer", squad="north")
        act(session, closed, "reject", officer, centre.clock.now(), "duplicate")

    olga, _ = login(app, "olga")
    page = olga.get("/map")
    assert page.status_code == 200
    data = page.text
    assert "城关小学门口" in data and "东门菜场" in data
    assert 'href="/queue?site=demo-node">2</a>' in data  # two violations wait at the school
    assert f'href="/reports/{near_school}"' in data
    for absent in (typed_only, south, closed):  # no place, not her squad, closed
        assert f'href="/reports/{absent}"' not in data
    assert "/static/vendor/leaflet/leaflet.js" in data
    assert "plain grid of latitude and longitude" in data  # no tile server configured

    queue = olga.get("/queue").text  # the site filter and the rows say where, in words
    assert '<option value="demo-node" >城关小学门口</option>' in queue
    assert "<td>城关小学门口 / kerb-cam</td>" in queue

    sam, _ = login(app, "sam")  # the supervisor sees every squad's
    assert f'href="/reports/{south}"' in sam.get("/map").text


def test_wardens_have_no_map_page_and_leaflet_comes_from_the_centre(app) -> None:
    walt, _ = login(app, "walt")
    assert walt.get("/map").status_code == 403
    script = walt.get("/static/vendor/leaflet/leaflet.js")
    assert script.status_code == 200 and b"Leaflet" in script.content[:400]
    assert walt.get("/static/vendor/leaflet/leaflet.css").status_code == 200


def test_a_configured_tile_server_is_what_the_map_draws_on(tmp_path: Path) -> None:
    tiles = "http://tiles.county.lan/{z}/{x}/{y}.png"
    config = MapConfig(tile_url=tiles, tile_attribution="县测绘局", home=(30.1, 120.2))
    with open_centre("sqlite", tmp_path, map=config) as centre:
        add_report_users(centre)
        app = create_app(centre, run_scheduler=False)
        olga, _ = login(app, "olga")
        page = olga.get("/map").text
        assert "nothing to show yet" in page.lower()  # no sites, no reports
        walt, _ = login(app, "walt")
        form = walt.get("/reports/new").text
        drawn = json.loads(re.search(r'id="map-config">(.*?)</script>', form).group(1))
        assert drawn["tiles"] == tiles and drawn["attribution"] == "县测绘局"
        assert drawn["home"] == [30.1, 120.2] and drawn["sites"] == []


def test_nearby_lists_open_reports_around_a_place_without_saying_who_filed_them(
    centre, app
) -> None:
    file_at(centre, "wendy", north_of(SCHOOL, 150))  # another warden's, another squad's
    file_at(centre, "walt", north_of(SCHOOL, 40))
    file_at(centre, "walt", north_of(SCHOOL, 2000))  # too far
    walt, _ = login(app, "walt")
    answer = walt.get("/api/v1/reports/nearby", params={"lat": SCHOOL[0], "long": SCHOOL[1]})
    assert answer.status_code == 200
    found = answer.json()
    assert found["radius_m"] == 500
    assert [r["distance_m"] for r in found["reports"]] == [40, 150]  # nearest first
    assert found["reports"][0]["category"] == "Road hazard"
    assert found["reports"][0]["state"] == "new"
    assert "by wendy" not in answer.text and "wendy" not in answer.text and "id" not in found[
        "reports"][0]  # fmt: skip
    bad = walt.get("/api/v1/reports/nearby", params={"lat": 91, "long": 0})
    assert bad.status_code == 422


def test_nearby_needs_a_login(app) -> None:
    from fastapi.testclient import TestClient

    answer = TestClient(app).get("/api/v1/reports/nearby", params={"lat": 30, "long": 120})
    assert answer.status_code == 401


def test_a_place_tapped_on_the_map_is_recorded_as_such(centre, app) -> None:
    walt, token = login(app, "walt")
    sent = walt.post(
        "/reports/new",
        data={
            "csrf_token": token,
            "service_code": "road_hazard",
            "attribute[hazard]": "debris",
            "attribute[road_blocked]": "no",
            "lat": "30.1",
            "long": "120.2",
            "position": "map",
        },
    )
    assert sent.status_code == 303, sent.text
    report_id = int(sent.headers["location"].split("filed=")[1])
    page = walt.get(f"/reports/{report_id}").text
    assert "tapped on the map" in page


def test_a_broken_sites_file_names_the_file_and_the_key(tmp_path: Path) -> None:
    sites = tmp_path / "sites.yaml"
    sites.write_text("sites:\n- node_id: a\n  name: A\n  lat: 95\n  long: 120\n")
    with pytest.raises(InvalidFile) as refused:
        CentralSettings(map=MapConfig(sites_file=sites)).map.load_sites()
    assert "sites.yaml" in str(refused.value) and "lat" in str(refused.value)
    sites.write_text(SITES + "- node_id: gate-7\n  name: again\n  lat: 30\n  long: 120\n")
    with pytest.raises(InvalidFile, match="gate-7"):
        MapConfig(sites_file=sites).load_sites()
    with pytest.raises(ValueError, match="tile_url"):
        MapConfig(tile_url="tiles.county.lan/tile.png")


def test_distances_and_boxes() -> None:
    assert distance_m(*SCHOOL, *north_of(SCHOOL, 250)) == pytest.approx(250, abs=0.5)
    south, north, west, east = box_around(*SCHOOL, 1000)
    assert north - south == pytest.approx(2 * 1000 / 111_195, rel=1e-3)
    assert east - west > north - south  # a degree of longitude is shorter away from the equator
