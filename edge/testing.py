"""Stand-ins for the edge's tests and benchmarks: a detector that sees one car wherever the
frame is bright, a one-camera pipeline and a two-camera node around it, and episode rules
driven by hand-made tracked boxes on a frame clock. Never imported by the node itself."""

from __future__ import annotations

from datetime import datetime

import cv2
import numpy as np

from cameras.frames import Frame
from edge.config import EpisodeRules, LadderPolicy, ZoneConfig
from edge.config_loader import parse_site_config
from edge.episodes import EpisodeBook
from edge.evidence import EvidenceStore
from edge.pipeline import CameraPipeline
from edge.sinks import MemorySink
from edge.zones import Zone
from models.coco import CLASS_ID
from models.detections import Detections

# -- one camera, one car ----------------------------------------------------------------------
SITE = """\
node_id: test-node
ladder: {grace_s: 4, repeat_s: 4, final_s: 4}
cameras:
  - id: cam1
    source: scene:none
    zones:
      - id: gate
        polygon: [[100, 300], [800, 300], [800, 450], [100, 450]]
"""
CAR_BOX = [300, 280, 520, 400]


class ParkedCarDetector:
    """Sees one car wherever the frame is bright (the "car" drawn by `frame_with_car`)."""

    def __init__(self) -> None:
        self.calls = 0

    def detect(self, image: np.ndarray) -> Detections:
        self.calls += 1
        if image[340, 400].mean() < 128:
            return Detections.empty()
        return Detections(np.array([CAR_BOX]), [0.9], [CLASS_ID["car"]])

    def detect_regions(self, image, regions):
        return self.detect(image)


def frame_with_car(i: int, car: bool = True) -> Frame:
    image = np.full((540, 960, 3), 60, np.uint8)
    if car:
        cv2.rectangle(image, CAR_BOX[:2], CAR_BOX[2:], (230, 230, 230), -1)
    return Frame("cam1", i, i / 5, image)


def make_pipeline(tmp_path, sink, evidence_root=None):
    site = parse_site_config(SITE)
    detector = ParkedCarDetector()
    store = EvidenceStore(evidence_root or tmp_path / "evidence")
    return CameraPipeline(site, site.cameras[0], detector, sink, store), detector, store


# -- a node of two cameras ----------------------------------------------------------------------
TWO_CAMERA_SITE = """\
node_id: fault-node
ladder: {grace_s: 4, repeat_s: 4, final_s: 4}
announcer: {enabled: false}
cameras:
  - id: good
    source: scene:none
    zones: [{id: gate, polygon: [[100, 300], [800, 300], [800, 450], [100, 450]]}]
  - id: bad
    source: scene:none
    zones: [{id: gate, polygon: [[100, 300], [800, 300], [800, 450], [100, 450]]}]
"""


def good_frames() -> list[Frame]:
    return [frame_with_car(i) for i in range(5 * 15)]  # a car parked 15 s: the whole ladder


def make_site(tmp_path, evidence_dir=None):
    site = parse_site_config(TWO_CAMERA_SITE)
    output = site.output.model_copy(
        update={
            "evidence_dir": evidence_dir or tmp_path / "evidence",
            "state_file": tmp_path / "state.db",
        }
    )
    return site.model_copy(update={"output": output})


def events_of(sink: MemorySink, camera: str) -> list[str]:
    return [r.event for r in sink.records if r.camera_id == camera]


# -- episode rules on a frame clock -----------------------------------------------------------
CAR, BUS = CLASS_ID["car"], CLASS_ID["bus"]
NOON = datetime(2026, 11, 24, 12, 0)  # a Tuesday
POLICY = LadderPolicy(grace_s=10, repeat_s=10, final_s=10, cooldown_s=60)
PARKED = [300, 300, 500, 400]  # bottom-centre (400, 400) is inside the zone below
FPS = 5


def make_book(**rules) -> EpisodeBook:
    zone = Zone(
        ZoneConfig(id="gate", polygon=[(200, 350), (700, 350), (700, 450), (200, 450)]), (960, 540)
    )
    return EpisodeBook([zone], {"gate": POLICY}, EpisodeRules(**rules))


def tracked(*vehicles: tuple[int, list[float], int]) -> Detections:
    """(tracker_id, box, class_id) triples as tracker output."""
    if not vehicles:
        return Detections.empty()
    ids, boxes, classes = zip(*vehicles, strict=True)
    return Detections(np.array(boxes), np.full(len(ids), 0.8), np.array(classes), np.array(ids))


def run(book: EpisodeBook, start: float, end: float, frame_at) -> list:
    """Feed frames at FPS from start to end; `frame_at(t)` gives the tracked vehicles."""
    events = []
    for i in range(round((end - start) * FPS)):
        t = start + i / FPS
        events += book.update(frame_at(t), t, NOON)
    return events


def kinds(events) -> list[str]:
    return [str(e.transition) for e in events]
