"""One camera's trouble is that camera's alone: a source raising or feeding garbage, a stream
that hangs, or a full evidence disk never stop the other cameras, and all of it shows in the
node's health."""

from __future__ import annotations

import threading

import numpy as np

from cameras.frames import Frame
from edge.config_loader import parse_site_config
from edge.node import EdgeNode
from edge.sinks import MemorySink
from edge.testing import (
    TWO_CAMERA_SITE,
    ParkedCarDetector,
    events_of,
    frame_with_car,
    good_frames,
    make_site,
)


def test_a_source_that_raises_and_feeds_garbage_does_not_stop_the_other_camera(tmp_path):
    opened = {"bad": 0}

    def broken():
        yield Frame("bad", 0, 0.0, None)  # no picture at all
        yield Frame("bad", 1, 0.2, np.zeros((0, 0, 3), np.uint8))  # an empty one
        yield Frame("bad", 2, 0.4, np.full((540, 960), 7, np.float64))  # wrong kind of image
        raise RuntimeError("corrupt stream")

    def sources(camera):
        if camera.id == "good":
            return good_frames()
        opened["bad"] += 1
        return broken() if opened["bad"] == 1 else []  # reopened: this time it just ends

    sink = MemorySink()
    node = EdgeNode(
        make_site(tmp_path), ParkedCarDetector(), sink, source_factory=sources,
        restart_backoff_s=0.01,
    )  # fmt: skip
    node.run()
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]
    assert events_of(sink, "bad") == []
    assert opened["bad"] == 2 and node.restarts == {"bad": 1}
    health = {c["camera_id"]: c for c in node.health()["cameras"]}
    assert health["bad"]["errors"] >= 3 and health["bad"]["restarts"] == 1
    assert health["good"]["errors"] == 0


class HungStream:
    """A stream that delivers one frame and then hangs until it is closed."""

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self):
        yield frame_with_car(0)
        self.closed.wait(30)

    def close(self) -> None:
        self.closed.set()


def test_the_watchdog_reopens_a_camera_whose_frames_stopped(tmp_path):
    hung = HungStream()
    opened = {"bad": 0}

    def sources(camera):
        if camera.id == "good":
            return good_frames()
        opened["bad"] += 1
        return hung if opened["bad"] == 1 else []

    sink = MemorySink()
    node = EdgeNode(
        make_site(tmp_path), ParkedCarDetector(), sink, source_factory=sources,
        stall_s=0.2, restart_backoff_s=0.01,
    )  # fmt: skip
    node.run()
    assert hung.closed.is_set() and opened["bad"] == 2
    assert node.restarts == {"bad": 1} and node.errors["bad"] == 1
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]


def test_a_full_evidence_disk_keeps_episodes_flowing_and_shows_in_health(tmp_path):
    full = tmp_path / "full-disk"
    full.write_text("a file where the evidence folder should be: every write fails")

    def sources(camera):
        return good_frames() if camera.id == "good" else []

    sink = MemorySink()
    node = EdgeNode(
        make_site(tmp_path, evidence_dir=full), ParkedCarDetector(), sink, source_factory=sources
    )
    node.run()
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]
    assert node.health()["evidence_failures"] == 3


class BrokenStore:
    """An episode state file on a disk that has filled up."""

    def save(self, camera_id, book, timestamp):
        import sqlite3

        raise sqlite3.OperationalError("database or disk is full")

    def load(self, camera_id):
        return None


def test_a_full_disk_for_the_state_file_keeps_the_ladder_and_shows_in_health(tmp_path):
    def sources(camera):
        return good_frames() if camera.id == "good" else []

    sink = MemorySink()
    node = EdgeNode(make_site(tmp_path), ParkedCarDetector(), sink, source_factory=sources)
    for pipeline in node.pipelines.values():
        pipeline.state_store = BrokenStore()
    node.run()
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]
    assert node.health()["state_failures"] > 0


def write_video(path, frames: int = 75, fps: float = 5.0) -> None:
    """A real video file of the parked car (MJPG in AVI, which OpenCV always writes)."""
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (960, 540))
    assert writer.isOpened()
    for i in range(frames):
        writer.write(frame_with_car(i).image)
    writer.release()


def test_a_missing_video_file_is_a_failed_camera_and_the_node_ends(tmp_path, caplog):
    """Files are finite: the good camera plays its file to the end, the missing one is said
    to be failed once (no retries, no traceback), and the node ends instead of retrying
    the missing file forever."""
    import logging

    video = tmp_path / "kerb.avi"
    write_video(video)
    missing = tmp_path / "nowhere" / "gate.avi"
    text = TWO_CAMERA_SITE.replace("source: scene:none", f"source: {video}", 1).replace(
        "source: scene:none", f"source: {missing}"
    )
    site = parse_site_config(text)
    site = site.model_copy(
        update={
            "output": site.output.model_copy(
                update={"evidence_dir": tmp_path / "evidence", "state_file": tmp_path / "s.db"}
            )
        }
    )
    sink = MemorySink()
    node = EdgeNode(site, ParkedCarDetector(), sink, restart_backoff_s=0.01)
    caplog.set_level(logging.INFO)
    runner = threading.Thread(target=node.run, daemon=True)
    runner.start()
    runner.join(60)
    assert not runner.is_alive(), "the node kept running after its cameras ended"
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]
    health = {c["camera_id"]: c for c in node.health()["cameras"]}
    assert health["bad"]["state"] == "failed" and str(missing) in health["bad"]["detail"]
    assert (health["bad"]["errors"], health["bad"]["restarts"]) == (1, 0)
    assert health["good"]["state"] == "closed"
    said = [r for r in caplog.records if str(missing) in r.getMessage()]
    assert len(said) == 1 and said[0].levelname == "ERROR" and said[0].exc_info is None


def test_a_failed_camera_shows_in_the_metrics(tmp_path):
    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from edge.metrics import NodeCollector

    empty = tmp_path / "no-images"
    empty.mkdir()
    good, bad = TWO_CAMERA_SITE.rsplit(
        "source: scene:none", 1
    )  # the second camera reads the folder
    site = parse_site_config(f"{good}source: {empty}{bad}")
    site = site.model_copy(
        update={"output": site.output.model_copy(update={"state_file": tmp_path / "s.db"})}
    )
    node = EdgeNode(site, ParkedCarDetector(), MemorySink(), source_factory=only_bad)
    node.run()
    registry = CollectorRegistry()
    registry.register(NodeCollector(node))
    scraped = generate_latest(registry).decode()
    assert 'roadguard_camera_state{camera="bad",state="failed"} 1.0' in scraped


def only_bad(camera):
    """The production source for camera `bad`; nothing for `good`."""
    from edge.node import open_camera

    return [] if camera.id == "good" else open_camera(camera)


class ThreadNotingDetector(ParkedCarDetector):
    """The stand-in car detector, noting the thread each frame is detected on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def detect(self, image):
        self.threads.add(threading.current_thread().name)
        return super().detect(image)


def test_the_cameras_share_one_detector_worker_and_keep_their_own_episodes(tmp_path):
    """Every camera's frames go to one detector thread (no camera runs the model itself),
    and each camera's ladder is still its own: a car for `good`, an empty road for `bad`."""
    empty_road = [frame_with_car(i, car=False) for i in range(5 * 15)]

    def sources(camera):
        return good_frames() if camera.id == "good" else empty_road

    detector = ThreadNotingDetector()
    sink = MemorySink()
    node = EdgeNode(make_site(tmp_path), detector, sink, source_factory=sources)
    node.run()
    assert node.pipelines["good"].detector is node.pipelines["bad"].detector is node.detector
    assert len(detector.threads) == 1 and detector.threads.pop().startswith("detector")
    assert events_of(sink, "good") == ["stopped", "warned", "warned", "violation"]
    assert events_of(sink, "bad") == []
    assert node.detector.stats.runs == detector.calls > 0
