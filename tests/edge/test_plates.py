"""Plates on the edge: read only vehicles in an episode, voted over frames, and a plate that
was warned in a zone is not warned again there within its cooldown."""

from __future__ import annotations

import numpy as np

from cameras.frames import Frame
from edge.config import PlatesConfig
from edge.config_loader import parse_site_config
from edge.evidence import EvidenceStore
from edge.pipeline import CameraPipeline
from edge.plates import OcrPlates, PlateStage
from edge.sinks import MemorySink
from edge.testing import CAR, NOON, PARKED, SITE, kinds, make_book, run, tracked
from models.coco import CLASS_ID
from models.detections import Detections
from models.plates.testing import camera_noise, car_scene, render_plate

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


def test_the_ocr_plate_of_a_parked_car_names_it_in_warning_two(tmp_path):
    """The whole plate path on pictures: a car whose rendered plate the OCR reads on the
    frames where the detector runs, voted, in the episode before warning 2."""

    image, box = car_scene(render_plate("苏E7C2Q8", "blue", height=42))

    class CarDetector:
        def detect(self, frame_image):
            return Detections(np.array([box]), [0.9], [CLASS_ID["car"]])

        def detect_regions(self, frame_image, regions):
            return self.detect(frame_image)

    # the test site's ladder (4 s steps), its zone moved under this bigger frame's car
    site = parse_site_config(
        SITE.replace(
            "[[100, 300], [800, 300], [800, 450], [100, 450]]",
            "[[300, 500], [1000, 500], [1000, 700], [300, 700]]",
        )  # fmt: skip
    )
    sink = MemorySink()
    stage = PlateStage(OcrPlates(PlatesConfig()), PlatesConfig(every_s=1.0, min_votes=2))
    pipeline = CameraPipeline(
        site, site.cameras[0], CarDetector(), sink, EvidenceStore(tmp_path), plates=stage
    )
    for i in range(5 * 10):  # 10 s at 5 fps: stopped, warning 1 at 4 s, warning 2 at 8 s
        pipeline.process(Frame("cam1", i, i / 5, camera_noise(image, seed=i)))
    warned = [r for r in sink.records if r.event == "warned"]
    assert [r.warning for r in warned] == [1, 2]
    assert warned[1].plate == "苏E7C2Q8"
    assert stage.reads <= 10  # read about once a second while undecided, never every frame
