"""Plates on the edge: read only vehicles in an episode, voted over frames, and a plate that
was warned in a zone is not warned again there within its cooldown."""

from __future__ import annotations

import numpy as np

from cameras.frames import Frame
from edge.config import PlatesConfig
from edge.plates import PlateStage
from tests.test_episodes import CAR, NOON, PARKED, kinds, make_book, run, tracked

FRAME = np.zeros((540, 960, 3), np.uint8)


class ScriptedReads:
    """A plate source answering from a list: what an OCR gives a car over several frames."""

    def __init__(self, *reads: tuple[str, float] | None) -> None:
        self.reads = list(reads)
        self.calls = 0

    def sight(self, frame, box):
        self.calls += 1
        return self.reads.pop(0) if self.reads else None


def test_a_plate_is_set_only_when_reads_agree_and_at_most_every_second():
    book = make_book()
    run(book, 0, 4, lambda t: tracked((1, PARKED, CAR)))  # parked 4 s: an episode is open
    (episode,) = book.open
    source = ScriptedReads(("京A12345", 0.9), ("京A12346", 0.85), ("京A12345", 0.92))
    stage = PlateStage(source, PlatesConfig(every_s=1.0, min_votes=2))
    decided = []
    for i in range(20, 40):  # 4 s more, 5 frames a second
        t = i / 5
        book.update(tracked((1, PARKED, CAR)), t, NOON)
        for episode, plate in stage.update(Frame("cam", i, t, FRAME), book.open):
            book.set_plate(episode, plate, t)
            decided.append((episode, plate))
    assert source.calls == 3  # once a second while undecided, then no more reads
    assert decided == [(episode, "京A12345")]


def test_vehicles_not_in_an_episode_are_never_read():
    book = make_book()
    source = ScriptedReads(("京A12345", 0.99))
    stage = PlateStage(source)
    assert stage.update(Frame("cam", 0, 0.0, FRAME), book.open) == []
    assert source.calls == 0


def test_the_same_plate_in_the_same_zone_within_cooldown_is_not_warned_again():
    book = make_book()  # grace 10 s, cooldown 60 s
    run(book, 0, 12, lambda t: tracked((1, PARKED, CAR)))
    book.set_plate(book.open[0], "京A12345", 12)
    events = run(book, 12, 30, lambda t: tracked())  # warned once, then drove off
    assert kinds(events) == ["dissuaded"]

    elsewhere = [450, 300, 650, 400]  # back 20 s later, in another spot of the same zone
    events = run(book, 30, 35, lambda t: tracked((2, elsewhere, CAR)))
    assert kinds(events) == ["stopped"]
    book.set_plate(book.open[0], "京A12345", 35)  # read and voted before its grace ran out
    assert book.open[0].cooldown_of is not None
    assert kinds(run(book, 35, 80, lambda t: tracked((2, elsewhere, CAR)))) == []

    other = make_book()
    run(other, 0, 4, lambda t: tracked((3, elsewhere, CAR)))
    other.set_plate(other.open[0], "沪B54321", 4)
    assert other.open[0].cooldown_of is None
