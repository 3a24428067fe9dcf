"""The per-camera pipeline with a stand-in detector: evidence, records, the motion gate."""

from __future__ import annotations

import json

import cv2
import pytest

from edge.sinks import JsonLinesSink, MemorySink
from edge.testing import frame_with_car, make_pipeline


def test_ladder_records_carry_evidence_and_motion_gate_saves_detector_calls(tmp_path):
    sink = JsonLinesSink(tmp_path / "episodes.jsonl")
    pipeline, detector, _ = make_pipeline(tmp_path, sink)
    for i in range(5 * 15):
        pipeline.process(frame_with_car(i))
    sink.close()
    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    assert [r["event"] for r in records] == ["stopped", "warned", "warned", "violation"]
    violation = records[-1]
    assert len(violation["evidence"]) == 6  # frame + crop at warning 1, warning 2, violation
    for name in violation["evidence"]:
        picture = cv2.imread(str(tmp_path / "evidence" / name))
        assert picture is not None and picture.size > 0
    assert records[1]["warnings"][0]["evidence"] == violation["evidence"][:2]
    assert violation["node_id"] == "test-node" and violation["camera_id"] == "cam1"
    # Nothing moved after the first frame: only the periodic re-checks ran the detector.
    assert detector.calls < pipeline.stats.frames / 4


def test_full_disk_for_evidence_keeps_the_ladder_going(tmp_path):
    blocked = tmp_path / "not-a-dir"
    blocked.write_text("a file where the evidence folder should be")
    sink = MemorySink()
    pipeline, _, store = make_pipeline(tmp_path, sink, evidence_root=blocked)
    for i in range(5 * 15):
        pipeline.process(frame_with_car(i))
    assert [r.event for r in sink.records] == ["stopped", "warned", "warned", "violation"]
    assert store.failures == 3 and sink.records[-1].evidence == []


def test_car_leaving_after_warning_is_dissuaded_in_the_records(tmp_path):
    sink = MemorySink()
    pipeline, _, _ = make_pipeline(tmp_path, sink)
    for i in range(5 * 6):
        pipeline.process(frame_with_car(i))
    for i in range(5 * 6, 5 * 25):
        pipeline.process(frame_with_car(i, car=False))
    assert [r.event for r in sink.records] == ["stopped", "warned", "dissuaded"]
    assert sink.records[-1].outcome == "dissuaded"


class SlowBrokenSpeaker:
    """A speaker that hangs until released and then fails: the worst an amplifier can do."""

    name = "broken"

    def __init__(self) -> None:
        import threading

        self.release = threading.Event()

    def play(self, audio, clip, label):
        from announcer.outputs import PlaybackFailed

        assert self.release.wait(10)
        raise PlaybackFailed("no answer from amplifier")


def test_a_hung_then_failed_speaker_neither_blocks_the_ladder_nor_goes_unreported(tmp_path):
    from announcer.clips import ClipCache
    from announcer.config import AnnouncerConfig
    from announcer.service import Announcer

    speaker = SlowBrokenSpeaker()
    announcer = Announcer(
        AnnouncerConfig(languages=["en"]), ClipCache(tmp_path / "clips"), [speaker]
    )
    sink = MemorySink()
    pipeline, _, _ = make_pipeline(tmp_path, sink)
    pipeline.announcer = announcer
    for i in range(80):  # 16 s: warning 1 at 4 s, warning 2 at 8 s, violation at 12 s
        pipeline.process(frame_with_car(i))
    events = [r.event for r in sink.records]
    assert events == ["stopped", "warned", "warned", "violation"]  # on time, speaker hung
    assert sink.records[1].warnings[0].announcement.status == "queued"

    speaker.release.set()
    assert announcer.drain(10)
    pipeline.process(frame_with_car(80))  # results are applied on the camera's thread
    first = pipeline.book.open[0].warnings[0].announcement
    assert first.status == "failed" and "no answer from amplifier" in first.errors[0]
    assert first.clip.endswith(".wav") and "No parking" in first.text
    assert announcer.health()["announcements"] == {"failed": 2}
    assert "no answer from amplifier" in announcer.health()["last_error"]


def test_frame_rate_is_derived_from_recent_frames_and_reading_it_changes_nothing():
    from edge.pipeline import PipelineStats

    stats = PipelineStats()
    stats.frame_times.extend(100.0 + i / 5 for i in range(100))  # 20 s at 5 fps
    assert stats.fps(now=119.8) == pytest.approx(5.0, abs=0.2)
    assert stats.fps(now=119.8) == stats.fps(now=119.8)  # a read is not a reset
    assert stats.fps(now=200.0) == 0.0  # nothing for a while: stalled
    assert PipelineStats().fps(now=1.0) == 0.0
