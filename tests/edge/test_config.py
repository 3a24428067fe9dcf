"""Site config: good files load, bad ones say which key on which line is wrong."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from edge.config_loader import ConfigError, load_site_config, parse_site_config
from edge.schedule import parse_rule, schedule_active
from roadguard.cli import main

GOOD = """\
node_id: gate-7
ladder: {grace_s: 30, repeat_s: 60, final_s: 90}
cameras:
  - id: cam1
    source: rtsp://camera.local/stream1
    zones:
      - id: school-gate
        name: School gate
        polygon: [[0.1, 0.6], [0.9, 0.6], [0.9, 0.95], [0.1, 0.95]]
        schedule: ["07:00-19:00 weekdays"]
        policy: {grace_s: 10, repeat_s: 20, final_s: 30, cooldown_s: 600}
"""


def test_good_config_loads_with_defaults_and_zone_override():
    site = parse_site_config(GOOD)
    zone = site.cameras[0].zones[0]
    assert site.policy_for(zone).grace_s == 10
    assert site.ladder.grace_s == 30 and site.ladder.cooldown_s == 900  # default kept
    assert zone.relative


@pytest.mark.parametrize(
    ("edit", "line", "key"),
    [
        (("grace_s: 10", "grace_s: -1"), 11, "cameras.0.zones.0.policy.grace_s"),
        (("name: School gate", "nmae: School gate"), 8, "cameras.0.zones.0.nmae"),
        (("weekdays", "weekdayz"), 10, "cameras.0.zones.0.schedule"),
        (("    source: rtsp://camera.local/stream1\n", ""), 4, "cameras.0.source"),
    ],
)
def test_bad_config_names_the_key_and_line(edit, line, key):
    with pytest.raises(ConfigError) as caught:
        parse_site_config(GOOD.replace(*edit), Path("site.yaml"))
    assert f"site.yaml:{line}: {key}:" in str(caught.value)


@pytest.mark.parametrize(
    ("edit", "line", "says"),
    [
        (("node_id: gate-7", "node_id: gate/7"), 1, "node id 'gate/7' must be 1-64 letters"),
        (("id: cam1", "id: health"), 4, "camera id 'health' is reserved for the node's own"),
        (("id: cam1", "id: cmd"), 4, "camera id 'cmd' is reserved"),
        (("id: cam1", "id: " + "c" * 65), 4, f"camera id '{'c' * 65}' must be 1-64 letters"),
        (("id: school-gate", "id: school+gate"), 7, "zone id 'school+gate' must be 1-64"),
    ],
)
def test_ids_the_contract_cannot_carry_are_config_errors(edit, line, says):
    """An id the MQTT topics refuse would drop every episode of that camera at run time."""
    with pytest.raises(ConfigError) as caught:
        parse_site_config(GOOD.replace(*edit), Path("site.yaml"))
    assert f"site.yaml:{line}: " in str(caught.value) and says in str(caught.value)


def test_a_polygon_error_names_the_zone_by_its_id():
    two_points = GOOD.replace(
        "[[0.1, 0.6], [0.9, 0.6], [0.9, 0.95], [0.1, 0.95]]", "[[0.1, 0.6], [0.9, 0.6]]"
    ).replace("school-gate", "footpath")
    with pytest.raises(ConfigError) as caught:
        parse_site_config(two_points, Path("site.yaml"))
    assert (
        "site.yaml:9: cameras.0.zones.0.polygon: camera 'cam1', zone 'footpath': "
        "polygon needs at least 3 points, got 2"
    ) in str(caught.value)


def test_broken_yaml_and_missing_file_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match=r"<config>:3: not valid YAML: expected the node content"):
        parse_site_config("node_id: x\ncameras: [\n")
    with pytest.raises(ConfigError, match="cannot read"):
        load_site_config(tmp_path / "nope.yaml")


def test_config_check_command(tmp_path, capsys):
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(GOOD.replace("polygon:", "polygone:"))
    assert main(["config", "check", str(good)]) == 0
    assert "OK" in capsys.readouterr().out
    assert main(["config", "check", str(bad)]) == 2
    assert "polygone" in capsys.readouterr().err


def test_config_check_warns_about_sources_this_box_cannot_read(tmp_path, capsys):
    """The file is valid, so the check passes; but a missing video, an empty folder or an
    absent camera device would fail the moment the node starts, so the installer hears now."""
    empty = tmp_path / "empty"
    empty.mkdir()
    sources = {
        "cam1": tmp_path / "missing.mp4",
        "cam2": empty,
        "cam3": "/dev/video97",
        "cam4": "scene:no_such_scene",
        "cam5": "scene:demo",
        "cam6": "rtsp://camera.local/stream1",
    }
    camera = GOOD.split("cameras:\n", 1)[1]
    text = (
        GOOD.split("cameras:\n", 1)[0]
        + "cameras:\n"
        + "".join(
            camera.replace("id: cam1", f"id: {cid}").replace(
                "rtsp://camera.local/stream1", str(source)
            )
            for cid, source in sources.items()
        )
    )
    config = tmp_path / "site.yaml"
    config.write_text(text)
    assert main(["config", "check", str(config)]) == 0
    err = capsys.readouterr().err
    assert f"camera 'cam1': no video file at {sources['cam1']}" in err
    assert f"camera 'cam2': no images in {empty}" in err
    assert "camera 'cam3': no video device /dev/video97" in err
    assert "camera 'cam4': no scene called 'no_such_scene'" in err
    assert "cam5" not in err and "cam6" not in err


def test_packaged_demo_config_is_valid():
    from edge.cli import DEMO_CONFIG

    assert load_site_config(DEMO_CONFIG).cameras[0].source.startswith("scene:")


def test_schedule_rules():
    weekdays = parse_rule("07:00-19:00 weekdays")
    tuesday_8 = datetime(2026, 11, 24, 8, 0)
    assert weekdays.covers(tuesday_8)
    assert not weekdays.covers(tuesday_8.replace(hour=19))
    assert not weekdays.covers(datetime(2026, 11, 28, 8, 0))  # Saturday
    overnight = parse_rule("22:00-06:00 fri")
    assert overnight.covers(datetime(2026, 11, 27, 23, 0))  # Friday night
    assert overnight.covers(datetime(2026, 11, 28, 5, 0))  # early Saturday belongs to Friday
    assert not overnight.covers(datetime(2026, 11, 27, 5, 0))
    assert parse_rule("08:00-12:00 mon,wed-fri").days == frozenset({0, 2, 3, 4})
    assert schedule_active([parse_rule("always")], tuesday_8)
    for bad in ("7-19", "07:00-07:00 daily", "25:00-26:00", "08:00-09:00 someday"):
        with pytest.raises(ValueError):
            parse_rule(bad)
