"""The node's one detector worker: cameras on many threads share one session, the model runs
one frame at a time, and every camera gets the answer for its own frame."""

from __future__ import annotations

import copy
import threading

import cv2
import numpy as np
import pytest

from cameras.photos import photo_path
from models.detections import Detections
from models.worker import DetectorFailed, DetectorWorker

CAMERAS = 6
FRAMES_EACH = 4


class WatchedSession:
    """The real session, recording which threads run it and how many runs overlap."""

    def __init__(self, session, fail_on_call: int | None = None) -> None:
        self.session, self.fail_on_call = session, fail_on_call
        self.lock = threading.Lock()
        self.threads: set[str] = set()
        self.running = self.most_at_once = self.calls = 0

    def run(self, names, feeds):
        with self.lock:
            self.calls += 1
            call = self.calls
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.threads.add(threading.current_thread().name)
        try:
            if call == self.fail_on_call:
                raise RuntimeError("[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : out of memory")
            return self.session.run(names, feeds)
        finally:
            with self.lock:
                self.running -= 1

    def __getattr__(self, name):
        return getattr(self.session, name)


def watched(detector, **options) -> tuple[object, WatchedSession]:
    """A copy of the shared test detector whose session records its use."""
    mine = copy.copy(detector)
    mine.session = WatchedSession(detector.session, **options)
    mine._infer = mine.run_model
    return mine, mine.session


def same(a: Detections, b: Detections) -> bool:
    return (
        len(a) == len(b)
        and np.allclose(a.xyxy, b.xyxy, atol=1e-3)
        and np.array_equal(a.class_id, b.class_id)
        and np.allclose(a.confidence, b.confidence, atol=1e-5)
    )


@pytest.fixture(scope="module")
def camera_frames() -> list[np.ndarray]:
    """A different picture for each camera: real photos, a real video frame, flips, blank."""
    bus = cv2.imread(str(photo_path("bus")))
    car = cv2.imread(str(photo_path("car_rear")))
    ok, campus = cv2.VideoCapture(str(photo_path("campus_video"))).read()
    assert ok and bus is not None and car is not None
    blank = np.full((480, 640, 3), 90, np.uint8)
    return [bus, car, campus, cv2.flip(bus, 1), cv2.flip(campus, 1), blank][:CAMERAS]


@pytest.mark.needs_model
@pytest.mark.needs_photos
@pytest.mark.parametrize("runners", [1, 2])
def test_one_worker_serves_every_camera_with_one_session_each_getting_its_own_answer(
    detector, camera_frames, runners
):
    expected = [detector.detect(frame) for frame in camera_frames]
    assert len({len(e) for e in expected}) > 2  # the frames do give different answers
    mine, session = watched(detector)
    worker = DetectorWorker(mine, runners=runners)
    start = threading.Barrier(CAMERAS)
    answers: dict[int, list[Detections]] = {k: [] for k in range(CAMERAS)}

    def camera(k: int) -> None:
        start.wait(10)
        for _ in range(FRAMES_EACH):
            answers[k].append(worker.detect(camera_frames[k]))

    threads = [threading.Thread(target=camera, args=(k,)) for k in range(CAMERAS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    worker.close()

    for k in range(CAMERAS):
        assert len(answers[k]) == FRAMES_EACH
        assert all(same(answer, expected[k]) for answer in answers[k]), f"camera {k}"
    assert session.calls == CAMERAS * FRAMES_EACH == worker.stats.runs
    # never more runs at once than the node allows: no oversubscription, whatever the cameras
    assert session.most_at_once <= runners and len(session.threads) <= runners
    assert all(name.startswith("detector") for name in session.threads)


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_a_failed_run_is_a_clear_error_for_its_camera_and_the_worker_serves_the_next(
    detector, camera_frames
):
    mine, _ = watched(detector, fail_on_call=1)
    worker = DetectorWorker(mine)
    with pytest.raises(DetectorFailed, match=r"nanodet\.onnx failed: .*out of memory"):
        worker.detect(camera_frames[0])
    assert same(worker.detect(camera_frames[0]), detector.detect(camera_frames[0]))
    assert worker.stats.failures == 1
    worker.close()
    # closed at the end of a node's run; a reloaded node's next request starts it again
    assert same(worker.detect(camera_frames[1]), detector.detect(camera_frames[1]))
    worker.close()


def test_the_node_detector_runs_one_core_per_run_and_one_run_per_core(monkeypatch):
    import models.worker

    made = {}

    def fake_load(model, **options):
        made.update(options, model=model)
        return "the detector"

    monkeypatch.setattr(models.worker, "load_detector", fake_load)
    monkeypatch.setattr(models.worker.os, "cpu_count", lambda: 6)
    worker = models.worker.node_detector("m.onnx", None, score_threshold=0.4)
    assert made == {"model": "m.onnx", "threads": 1, "score_threshold": 0.4}
    assert worker.runners == 6 and models.worker.node_detector("m.onnx", 2).runners == 2
    with pytest.raises(ValueError, match="at least one runner"):
        DetectorWorker(worker.detector, runners=0)


def test_a_stand_in_detector_runs_whole_on_the_worker_and_its_errors_reach_the_caller():
    class StandIn:
        def __init__(self) -> None:
            self.threads: set[str] = set()

        def detect(self, image):
            self.threads.add(threading.current_thread().name)
            if image is None:
                raise TypeError("no picture")
            return Detections.empty()

        def detect_regions(self, image, regions):
            return self.detect(image)

    stand_in = StandIn()
    worker = DetectorWorker(stand_in)
    assert len(worker.detect(np.zeros((4, 4, 3), np.uint8))) == 0
    assert len(worker.detect_regions(np.zeros((4, 4, 3), np.uint8), [(0, 0, 2, 2)])) == 0
    with pytest.raises(TypeError, match="no picture"):
        worker.detect(None)
    worker.close()
    assert len(stand_in.threads) == 1 and stand_in.threads.pop().startswith("detector")
