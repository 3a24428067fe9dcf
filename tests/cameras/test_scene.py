"""The scripted scene source: deterministic frames of real vehicle photos on a drawn road,
with ground truth that follows the script, and scripts whose errors name the key to fix."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cameras.scene import (
    SceneError,
    SceneSource,
    load_scene,
    parse_scene,
    scene_from_dict,
    scene_names,
)
from cameras.sources import FrameSource, SourceState, open_source

SHIPPED = ("bus_occlusion", "delivery_stop", "demo", "jam")
ZONE = [(100, 380), (860, 380), (860, 470), (100, 470)]


pytestmark = pytest.mark.usefixtures("photos")


def one_car(**steps_and_more) -> SceneSource:
    """A 20 s scene with one car entering from the left at 1 s and stopping at x=300."""
    steps = steps_and_more.pop(
        "steps", [{"enter": "left", "at": 1, "to": 300}, {"wait": 5}, {"leave": "right"}]
    )
    return scene_from_dict(
        {
            "name": "one_car",
            "duration": 20,
            "noise": 0,
            "actors": [
                {"name": "car", "sprite": "car", "width": 290, "lane": "kerb", "steps": steps}
            ],
            **steps_and_more,
        }
    )


def test_shipped_scenes_and_their_zones():
    assert set(SHIPPED) <= set(scene_names())
    for name in SHIPPED:
        scene = load_scene(name, camera_id="cam")
        assert scene.name == name and scene.fps == 5 and scene.size == (960, 540)
        assert scene.zones == {"school-gate": ZONE}
        assert 50 <= scene.frame_count <= 600


def test_a_scene_is_deterministic():
    first, second = load_scene("demo"), load_scene("demo")
    for index in (0, 27, 100, 160):
        assert np.array_equal(first.render(index), second.render(index))
    assert np.array_equal(first.render(100), first.render(100))  # any order, any time
    assert not np.array_equal(first.render(100), first.render(101))  # sensor noise differs


def test_scene_is_a_frame_source_with_synthetic_timestamps():
    scene = load_scene("delivery_stop", camera_id="kerb")
    assert isinstance(scene, FrameSource) and scene.state is SourceState.CONNECTING
    frames = list(scene)
    assert len(frames) == scene.frame_count == 100
    assert [f.timestamp for f in frames[:3]] == [0.0, 0.2, 0.4]
    assert frames[-1].camera_id == "kerb" and frames[-1].size == (960, 540)
    assert scene.state is SourceState.CLOSED
    capped = open_source("scene:delivery_stop", fps_cap=2.5)
    assert [f.index for f in capped][:3] == [0, 2, 4]


def test_ground_truth_follows_the_script():
    scene = one_car()
    fps = scene.fps
    assert scene.truth(0) == {}  # not in the scene before 1 s
    entering = scene.truth(round(1.4 * fps))["car"]
    assert entering.moving and entering.speed == pytest.approx(150)
    stopped = [
        i
        for i in range(scene.frame_count)
        if "car" in scene.truth(i) and not scene.truth(i)["car"].moving
    ]
    arrived, left = stopped[0] / fps, stopped[-1] / fps
    assert 3.5 < arrived < 5.0 and left - arrived == pytest.approx(5.0, abs=0.21)
    for index in stopped:
        truth = scene.truth(index)["car"]
        assert truth.box[0] + truth.box[2] == 600  # centred on x=300
        assert truth.box[3] == 455  # wheels on the kerb lane
        assert truth.visible == 1.0
    assert "car" not in scene.truth(scene.frame_count - 1)  # drove off to the right


def test_a_car_parked_before_the_scene_begins_stands_there_from_the_first_frame():
    scene = one_car(steps=[{"parked": 300}, {"until": 10}, {"leave": "right"}])
    first = scene.truth(0)["car"]
    assert not first.moving and first.box[0] + first.box[2] == 600
    assert not scene.truth(round(9.8 * scene.fps))["car"].moving
    assert scene.truth(round(11 * scene.fps))["car"].moving
    with pytest.raises(SceneError, match="only the first step can be `parked`"):
        one_car(steps=[{"enter": "left", "at": 1, "to": 300}, {"parked": 300}])


def test_street_scenes_have_parked_cars_and_traffic_as_their_comments_say():
    """The streets the congestion rules are tested on: cars parked from the first frame
    outside the zone, and the vehicles the tests are about inside it."""
    for name, zone_id, parked in (
        ("parked_kerb", "loading-bay", ("bay1", "bay2", "bay3", "bay4", "kerb1", "kerb2")),
        ("red_light", "lights-approach", ("bay1", "bay2", "bay3", "bay4")),
        ("jam_clears", "lights-approach", ("bay1", "bay2", "bay3", "bay4")),
    ):
        scene = load_scene(name)
        polygon = np.array(scene.zones[zone_id], np.float32)
        for index in (0, scene.frame_count - 1):
            truth = scene.truth(index)
            for actor in parked:
                assert not truth[actor].moving, (name, actor)
                x, y = truth[actor].bottom_centre
                assert cv2.pointPolygonTest(polygon, (float(x), float(y)), False) < 0
    kerb = load_scene("parked_kerb").truth(round(20 * 5))
    x, y = kerb["intruder"].bottom_centre
    assert 560 < x < 955 and 480 < y < 570 and not kerb["intruder"].moving
    queue = load_scene("red_light").truth(round(30 * 5))
    for actor in ("first", "second", "third", "fourth"):
        x, y = queue[actor].bottom_centre
        assert 100 < x < 860 and 480 < y < 570 and not queue[actor].moving


def test_demo_timeline_matches_its_comments():
    scene = load_scene("demo")

    def still(name: str, t: float) -> bool:
        truth = scene.truth(round(t * scene.fps)).get(name)
        return truth is not None and not truth.moving

    assert still("car_a", 7) and still("car_a", 57) and not still("car_a", 59)
    assert not still("car_b", 15) and still("car_b", 17) and still("car_b", 29)
    assert not still("car_b", 30)
    box = scene.truth(round(20 * scene.fps))
    for name in ("car_a", "car_b"):  # both parked inside the zone (bottom-centre test)
        x, y = box[name].bottom_centre
        assert 100 < x < 860 and 380 < y < 470


def test_nearer_vehicles_are_drawn_over_farther_ones():
    car = {
        "name": "car",
        "sprite": "car",
        "width": 290,
        "lane": "kerb",
        "steps": [{"enter": "left", "at": 0, "to": 480}],
    }
    bus = {
        "name": "bus",
        "sprite": "bus",
        "width": 500,
        "lane": "near",
        "steps": [{"enter": "left", "at": 8, "to": 480}],
    }
    base = {"name": "o", "duration": 20, "noise": 0}
    both = scene_from_dict({**base, "actors": [bus, car]})  # bus listed first, still in front
    bus_only = scene_from_dict({**base, "actors": [bus]})
    parked, passing, covering = 7 * 5, 11 * 5, 18 * 5
    assert both.truth(parked)["car"].visible == 1.0
    assert 0.0 < both.truth(passing)["car"].visible < 1.0
    assert "car" not in both.truth(covering)  # hidden completely: not in the truth
    hidden = both.truth(covering, include_hidden=True)["car"]
    assert hidden.visible == 0 and hidden.box[0::2] == (335, 625) and hidden.box[3] == 455
    assert np.array_equal(both.render(covering), bus_only.render(covering))


def test_background_shows_the_zone_but_no_vehicle_colours_move():
    scene = one_car()
    still_road = scene.background
    assert still_road.shape == (540, 960, 3)
    painted = still_road[420, 100]  # the worn yellow outline of the no-parking box
    assert painted[2] > painted[0] + 40
    assert np.array_equal(scene.render(0), still_road)  # no noise, no vehicle yet


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (("width: 290", "widht: 290"), "actors.0.widht"),
        (("lane: kerb", "lane: pavement"), "actors.0.lane"),
        (
            ("{enter: left, at: 1, to: 300}", "{enter: up, at: 1, to: 300}"),
            "actors.0.steps.0.enter",
        ),
        (("{wait: 5s}", "{wait: soon}"), "actors.0.steps.1.wait"),
        (("{leave: right}", "{leave: right, at: 2}"), "actors.0.steps.2.at"),
        (("{leave: right}", "{leaf: right}"), "actors.0.steps.2"),
        (("fps: 5", "fps: -5"), "fps"),
    ],
)
def test_script_errors_name_the_key_and_line(change, key):
    text = """\
name: broken
fps: 5
duration: 20
actors:
  - name: car
    sprite: car
    width: 290
    lane: kerb
    steps:
      - {enter: left, at: 1, to: 300}
      - {wait: 5s}
      - {leave: right}
"""
    parse_scene(text)  # the unbroken script is fine
    old, new = change
    with pytest.raises(SceneError) as error:
        parse_scene(text.replace(old, new))
    message = str(error.value)
    assert f": {key}: " in message, message
    line = next(n for n, row in enumerate(text.splitlines(), 1) if old in row)
    assert f"<scene>:{line}: {key}" in message, message


def test_durations_read_as_people_write_them():
    scene = one_car(
        steps=[{"enter": "left", "at": "1s", "to": 300}, {"wait": "1m30s"}],
        duration="2m",
    )
    assert scene.script.duration == 120
    assert scene.script.actors[0].steps[1].wait == 90
    with pytest.raises(SceneError, match="exactly one of"):
        one_car(steps=[{"enter": "left", "to": 300, "wait": 3}])


def test_unknown_scene_lists_the_shipped_ones():
    with pytest.raises(SceneError, match="demo"):
        load_scene("no_such_scene")
