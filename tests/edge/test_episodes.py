"""Episode rules on hand-made tracked boxes: every timer is driven by frame timestamps."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from edge.config import EpisodeRules, ZoneConfig
from edge.episodes import EpisodeBook
from edge.testing import BUS, CAR, FPS, NOON, PARKED, POLICY, kinds, make_book, run, tracked
from edge.zones import Zone
from models.detections import Detections


def test_full_ladder_then_violation_with_two_warnings_at_policy_times():
    book = make_book()
    events = run(book, 0, 40, lambda t: tracked((1, PARKED, CAR)))
    assert kinds(events) == ["stopped", "warned", "warned", "violation"]
    stopped, w1, w2, violation = events
    assert stopped.episode.stopped_at == 0
    assert w1.timestamp == pytest.approx(10) and w2.timestamp == pytest.approx(20)
    assert violation.timestamp == pytest.approx(30)
    assert len({e.episode.id for e in events}) == 1


def test_leaving_after_first_warning_is_dissuaded():
    book = make_book()
    events = run(book, 0, 15, lambda t: tracked((1, PARKED, CAR)))
    events += run(book, 15, 30, lambda t: tracked())  # gone; occlusion grace then expires
    assert kinds(events) == ["stopped", "warned", "dissuaded"]
    assert events[-1].episode.ended_at == pytest.approx(15 - 1 / FPS)


def test_delivery_stop_shorter_than_grace_is_cleared_without_warning():
    book = make_book()
    events = run(book, 0, 6, lambda t: tracked((1, PARKED, CAR)))
    leaving = lambda t: tracked((1, [300 + 60 * (t - 6), 300, 500 + 60 * (t - 6), 400], CAR))  # noqa: E731
    events += run(book, 6, 12, leaving)
    assert kinds(events) == ["stopped", "cleared"]


def test_moving_traffic_through_the_zone_opens_no_episode():
    book = make_book()
    drive = lambda t: tracked((1, [40 * t, 300, 40 * t + 200, 400], CAR))  # noqa: E731
    assert run(book, 0, 20, drive) == []


def test_forced_id_switch_keeps_one_episode():
    book = make_book()
    events = run(book, 0, 12, lambda t: tracked((1, PARKED, CAR)))
    jitter = [PARKED[0] + 3, PARKED[1] - 2, PARKED[2] + 2, PARKED[3] + 1]
    events += run(book, 12, 40, lambda t: tracked((7, jitter, CAR)))  # the tracker renamed it
    assert kinds(events) == ["stopped", "warned", "warned", "violation"]
    assert len({e.episode.id for e in events}) == 1
    assert events[-1].episode.track_ids == [1, 7]


def test_bus_hiding_the_car_for_5s_neither_resets_nor_duplicates_the_episode():
    book = make_book()
    bus_box = lambda t: [100 + 80 * (t - 8), 200, 700 + 80 * (t - 8), 470]  # noqa: E731

    def scene(t: float) -> Detections:
        if t < 8:
            return tracked((1, PARKED, CAR))
        if t < 13:  # bus in front: the car is not detected at all
            return tracked((2, bus_box(8.0), BUS))
        return tracked((3, PARKED, CAR), (2, bus_box(t), BUS))  # car back under a new id

    events = run(book, 0, 40, scene)
    assert kinds(events) == ["stopped", "warned", "warned", "violation"]
    assert len({e.episode.id for e in events}) == 1
    episode = events[0].episode
    assert episode.stopped_at == 0
    assert 2 not in episode.track_ids  # the bus never took the episode over
    # Warning 1 was due at 10 s while hidden: it waits until the car is seen again.
    assert events[1].timestamp == pytest.approx(13)


def test_a_bus_sliding_in_front_shrinks_the_car_box_without_ending_the_episode():
    """While the bus covers the car from the left, the detector sees only the car's right
    part: a smaller box inside the anchor, which is the car partly hidden, not leaving."""
    book = make_book()

    def scene(t: float) -> Detections:
        covered = min(150.0, max(0.0, 50 * (t - 5)))  # up to 150 of the car's 200 px
        visible = [PARKED[0] + covered, PARKED[1], PARKED[2], PARKED[3]]
        return tracked((1, visible, CAR), (2, [0, 200, PARKED[0] + covered, 470], BUS))

    events = run(book, 0, 40, scene)
    assert kinds(events) == ["stopped", "warned", "warned", "violation"]
    assert events[-1].episode.track_ids == [1]


def test_vehicle_gone_longer_than_occlusion_grace_ends_the_episode():
    book = make_book(occlusion_grace_s=4)
    events = run(book, 0, 5, lambda t: tracked((1, PARKED, CAR)))
    events += run(book, 5, 15, lambda t: tracked())
    assert kinds(events) == ["stopped", "cleared"]


def arriving(box: list[float], t: float, stops_at: float, speed: float = 100) -> list[float]:
    """`box` for a vehicle that drives in from the left at `speed` px/s and stops there at
    `stops_at`: a queue forms from traffic, it does not appear standing."""
    shift = speed * max(0.0, stops_at - t)
    return [box[0] - shift, box[1], box[2] - shift, box[3]]


QUEUE = [[300 + 210 * i, 300, 500 + 210 * i, 400] for i in range(-1, 3)]


def test_congestion_suspends_the_ladder_instead_of_warning():
    book = make_book()

    def jam(t: float) -> Detections:
        shift = 50 * max(0.0, t - 30)  # traffic moves on at 30 s
        return tracked(
            *[
                (i + 1, [b[0] + shift, b[1], b[2] + shift, b[3]], CAR)
                for i, box in enumerate(QUEUE)  # four cars bumper to bumper, one in the zone
                for b in [arriving(box, t, stops_at=5)]
            ]
        )

    events = run(book, 0, 40, jam)
    assert book.stillness.tracks[1].travelled
    assert "warned" not in kinds(events) and "violation" not in kinds(events)


def test_car_left_standing_when_a_jam_clears_gets_its_grace_from_then():
    """The queue behind the zone moves on at 30 s; the car in the zone stays. It queued until
    then, so its grace starts at 30 s, and its two warnings are `repeat_s` apart."""
    book = make_book()
    others = [QUEUE[i] for i in (0, 2, 3)]

    def scene(t: float) -> Detections:
        shift = 0 if t < 30 else 50 * (t - 30)
        moving = [arriving([b[0] + shift, b[1], b[2] + shift, b[3]], t, 5) for b in others]
        in_zone = arriving(PARKED, t, 5)
        return tracked((1, in_zone, CAR), *[(i + 2, b, CAR) for i, b in enumerate(moving)])

    events = run(book, 0, 55, scene)
    assert kinds(events) == ["stopped", "warned", "warned"]
    _, first, second = events
    assert first.timestamp == pytest.approx(30 + POLICY.grace_s, abs=0.5)
    assert second.timestamp - first.timestamp == pytest.approx(POLICY.repeat_s, abs=0.3)


def test_parked_cars_alone_are_not_congestion():
    book = make_book()
    far = [700, 100, 800, 160]  # a car parked outside the zone
    events = run(book, 0, 12, lambda t: tracked((1, PARKED, CAR), (2, far, CAR)))
    assert kinds(events) == ["stopped", "warned"]


def test_a_kerb_of_cars_parked_before_the_camera_looked_is_not_a_jam():
    """Six cars stand outside the zone from the first frame; one drives into the zone and
    stops. Only traffic queues: it is warned `grace_s` after it stopped."""
    book = make_book()
    kerb = [[10 + 150 * i, 100, 140 + 150 * i, 180] for i in range(6)]

    def street(t: float) -> Detections:
        return tracked(
            *[(i + 1, box, CAR) for i, box in enumerate(kerb)],
            (9, arriving(PARKED, t, stops_at=4), CAR),
        )

    events = run(book, 0, 16, street)
    assert not any(book.stillness.tracks[i + 1].travelled for i in range(6))
    assert kinds(events) == ["stopped", "warned"]
    assert events[1].timestamp == pytest.approx(4 + POLICY.grace_s, abs=0.3)


def test_cars_that_parked_long_ago_are_not_a_jam():
    """Three cars drove in and parked outside the zone; once they have stood longer than
    `queue_window_s` they are parked, not queueing, and a car stopping in the zone is warned."""
    book = make_book(queue_window_s=20)
    outside = [[10 + 150 * i, 100, 140 + 150 * i, 180] for i in range(3)]

    def street(t: float) -> Detections:
        cars = [(i + 1, arriving(box, t, stops_at=2), CAR) for i, box in enumerate(outside)]
        if t >= 10:
            cars.append((9, arriving(PARKED, t, stops_at=30), CAR))
        return tracked(*cars)

    events = run(book, 0, 45, street)
    assert kinds(events) == ["stopped", "warned"]
    assert events[1].timestamp == pytest.approx(30 + POLICY.grace_s, abs=0.3)


def test_a_vehicle_passing_in_front_that_takes_the_track_id_does_not_end_the_episode():
    """ByteTrack can hand a parked car's id to a car passing in front of it: the id moves on
    with the passing car while the parked one, hidden, shows again under a new id."""
    book = make_book()
    passing = [250, 330, 450, 460]  # in the near lane, in front of the parked car

    def scene(t: float) -> Detections:
        if t < 12:
            return tracked((1, PARKED, CAR))
        if t < 12.6:  # the passing car covers the spot and carries id 1 away
            shift = 200 * (t - 12)
            return tracked((1, [passing[0] + shift, 330, passing[2] + shift, 460], CAR))
        return tracked((7, PARKED, CAR))

    events = run(book, 0, 25, scene)
    assert kinds(events) == ["stopped", "warned", "warned"]
    assert len({e.episode.id for e in events}) == 1
    assert events[-1].episode.track_ids == [1, 7]


def test_same_vehicle_returning_within_cooldown_is_not_warned_again():
    book = make_book()
    events = run(book, 0, 12, lambda t: tracked((1, PARKED, CAR)))
    events += run(book, 12, 26, lambda t: tracked())  # leaves after warning 1: dissuaded
    events += run(book, 26, 60, lambda t: tracked((9, PARKED, CAR)))  # back within 60 s
    assert kinds(events) == ["stopped", "warned", "dissuaded", "stopped"]
    assert events[-1].episode.cooldown_of == events[0].episode.id


def test_zone_class_filter_and_schedule():
    zone = Zone(
        ZoneConfig(
            id="bus-stop",
            polygon=[(200, 350), (700, 350), (700, 450), (200, 450)],
            classes=["car"],
            schedule=["07:00-19:00 weekdays"],
        ),
        (960, 540),
    )
    book = EpisodeBook([zone], {"bus-stop": POLICY}, EpisodeRules())
    saturday = datetime(2026, 11, 28, 12, 0)
    assert [book.update(tracked((1, PARKED, CAR)), i / FPS, saturday) for i in range(50)] == [
        []
    ] * 50
    book = EpisodeBook([zone], {"bus-stop": POLICY}, EpisodeRules())
    assert all(book.update(tracked((1, PARKED, BUS)), i / FPS, NOON) == [] for i in range(50))


def test_a_camera_outage_is_neither_a_departure_nor_a_sighting():
    """The stream is lost for 60 s after warning 1. Nobody saw the car leave: when the
    camera is back and the car still there, its ladder goes on (warning 2 at once, it was
    due meanwhile); it is not closed as dissuaded for the time nobody could see."""
    book = make_book()
    events = run(book, 0, 12, lambda t: tracked((1, PARKED, CAR)))
    assert kinds(events) == ["stopped", "warned"]
    assert book.update(tracked(), 72.0, NOON) == []  # first frame after the outage: nothing
    events += run(book, 72.2, 80, lambda t: tracked((5, PARKED, CAR)))  # a new track id
    assert kinds(events) == ["stopped", "warned", "warned"]
    assert events[-1].timestamp == pytest.approx(72.4, abs=0.3)
    assert len({e.episode.id for e in events}) == 1


def test_a_car_gone_when_the_camera_comes_back_ends_after_its_grace():
    book = make_book()
    events = run(book, 0, 12, lambda t: tracked((1, PARKED, CAR)))
    events += run(book, 72, 100, lambda t: tracked())  # back after 60 s: the spot is empty
    assert kinds(events) == ["stopped", "warned", "dissuaded"]


def test_the_schedule_ending_with_the_car_still_there_is_expired_not_dissuaded():
    """No parking 07:00-19:00: a car warned at 18:59 that never moves has not been moved on
    by the warning when the rule lapses at 19:00. That is its own outcome, never a success."""
    zone = Zone(
        ZoneConfig(
            id="gate",
            polygon=[(200, 350), (700, 350), (700, 450), (200, 450)],
            schedule=["07:00-19:00"],
        ),
        (960, 540),
    )
    book = EpisodeBook([zone], {"gate": POLICY}, EpisodeRules())
    start = datetime(2026, 11, 24, 18, 59, 40)
    events = []
    for i in range(40 * FPS):
        t = i / FPS
        events += book.update(tracked((1, PARKED, CAR)), t, start + timedelta(seconds=t))
    assert kinds(events) == ["stopped", "warned", "expired"]
    assert events[-1].episode.outcome == "expired"
    assert events[-1].timestamp == pytest.approx(20, abs=0.3)  # 19:00:00
    assert book.open == []


def test_skipped_frames_keep_the_ladder_running():
    """Frames the motion gate skipped (nothing moved) still advance the timers."""
    book = make_book()
    events = run(book, 0, 4, lambda t: tracked((1, PARKED, CAR)))
    for i in range(4 * FPS, 40 * FPS):
        events += book.tick(i / FPS)
    assert kinds(events) == ["stopped", "warned", "warned", "violation"]
