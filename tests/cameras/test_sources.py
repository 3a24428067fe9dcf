"""Frame sources: files and folders with their own timestamps, the fps cap, and live cameras
that reconnect with back-off. No test sleeps: clocks, sleeps and captures are fakes."""

from __future__ import annotations

import itertools
import logging
import random

import cv2
import numpy as np
import pytest
from pydantic import ValidationError

from cameras.backoff import Backoff
from cameras.live import LiveSource, _redact
from cameras.ratecap import FrameRateCap
from cameras.sources import (
    FrameSource,
    ImageFolderSource,
    SourceSpec,
    SourceState,
    SourceUnavailable,
    VideoFileSource,
    open_source,
    source_kind,
)


def write_video(path, frames: int, fps: float = 10.0, size=(64, 48)):
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, size)
    assert writer.isOpened()
    for i in range(frames):
        writer.write(np.full((size[1], size[0], 3), (i * 10) % 256, np.uint8))
    writer.release()
    return path


# -- files ----------------------------------------------------------------------------------
def test_video_file_frames_and_timestamps(tmp_path):
    path = write_video(tmp_path / "clip.avi", 20)
    source = open_source(path, camera_id="gate")
    assert isinstance(source, VideoFileSource) and isinstance(source, FrameSource)
    frames = list(source)
    assert [f.index for f in frames] == list(range(20))
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(20)])
    assert {f.camera_id for f in frames} == {"gate"}
    assert frames[0].size == (64, 48)
    assert abs(int(frames[7].image.mean()) - 70) <= 3  # the 8th frame written, in order
    assert source.state is SourceState.CLOSED


def test_fps_cap_halves_a_10_fps_file(tmp_path):
    path = write_video(tmp_path / "clip.avi", 20)
    frames = list(open_source(path, fps_cap=5))
    assert len(frames) == 10
    assert [f.timestamp for f in frames] == pytest.approx([i * 0.2 for i in range(10)])
    assert [f.index for f in frames] == list(range(0, 20, 2))


def test_looping_file_keeps_time_running(tmp_path):
    path = write_video(tmp_path / "clip.avi", 5)
    source = open_source(SourceSpec(url=str(path), loop=True))
    frames = list(itertools.islice(source, 12))
    assert [f.timestamp for f in frames] == pytest.approx([i / 10 for i in range(12)])
    source.close()
    assert source.state is SourceState.CLOSED


def test_missing_file_is_an_error_not_a_camera_to_wait_for(tmp_path):
    with pytest.raises(SourceUnavailable, match="no video file"):
        list(open_source(tmp_path / "nope.avi"))


def test_file_without_container_time_falls_back_to_index_over_fps():
    class NoTimeCapture(FakeCapture):
        def get(self, prop: int) -> float:
            return 4.0 if prop == cv2.CAP_PROP_FPS else 0.0

    source = VideoFileSource(__file__, capture_factory=lambda _: NoTimeCapture(frames=3))
    assert [f.timestamp for f in source] == pytest.approx([0.0, 0.25, 0.5])


# -- folders --------------------------------------------------------------------------------
def test_image_folder_in_natural_order_at_its_fps(tmp_path):
    for n in (10, 2, 1):
        cv2.imwrite(str(tmp_path / f"frame{n}.png"), np.full((8, 8, 3), n, np.uint8))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "frame3.jpg").write_bytes(b"corrupt")
    source = open_source(SourceSpec(url=str(tmp_path), folder_fps=2, camera_id="f"))
    assert isinstance(source, ImageFolderSource)
    frames = list(source)
    assert [int(f.image[0, 0, 0]) for f in frames] == [1, 2, 10]  # frame3.jpg skipped
    assert [f.timestamp for f in frames] == [0.0, 0.5, 1.5]
    assert source.state is SourceState.CLOSED


def test_empty_folder_is_an_error(tmp_path):
    with pytest.raises(SourceUnavailable, match="no images"):
        list(ImageFolderSource(tmp_path))


# -- the fps cap and back-off ---------------------------------------------------------------
def test_fps_cap_decides_on_timestamps():
    cap = FrameRateCap(5)
    seven_fps = [i / 7 for i in range(70)]  # 10 s
    assert sum(cap.admit(t) for t in seven_fps) in (50, 51)
    restart = FrameRateCap(5)
    assert [restart.admit(t) for t in (100.0, 100.1, 3.0, 3.1, 3.2)] == [
        True,
        False,
        True,
        False,
        True,
    ]  # a clock going backwards restarts the schedule
    assert all(FrameRateCap(None).admit(t) for t in (0, 0, 0))


def test_backoff_doubles_to_the_max_and_resets():
    backoff = Backoff(1.0, 8.0)
    assert [backoff.next_delay() for _ in range(6)] == [1, 2, 4, 8, 8, 8]
    backoff.reset()
    assert backoff.next_delay() == 1


def test_backoff_jitter_stays_within_bounds():
    backoff = Backoff(2.0, 30.0, jitter=0.25, rng=random.Random(1))
    delays = [backoff.next_delay() for _ in range(8)]
    bases = [2, 4, 8, 16, 30, 30, 30, 30]
    assert all(0.75 * b <= d <= b for d, b in zip(delays, bases, strict=True))
    assert len(set(delays)) == len(delays)


# -- live cameras ---------------------------------------------------------------------------
class FakeCapture:
    """A capture that delivers `frames` frames and then stops (or never opens)."""

    def __init__(self, frames: int = 0, opened: bool = True) -> None:
        self.frames, self.opened = frames, opened
        self.grabbed = self.retrieved = 0
        self.released = False

    def isOpened(self) -> bool:  # noqa: N802
        return self.opened

    def grab(self) -> bool:
        if self.grabbed >= self.frames:
            return False
        self.grabbed += 1
        return True

    def retrieve(self):
        self.retrieved += 1
        return True, np.full((4, 4, 3), self.grabbed, np.uint8)

    def get(self, prop: int) -> float:
        if prop == cv2.CAP_PROP_POS_MSEC:
            return (self.grabbed - 1) * 100.0
        return 10.0 if prop == cv2.CAP_PROP_FPS else 0.0

    def release(self) -> None:
        self.released = True


class FakeTime:
    """A clock that only moves when the source sleeps (or by `tick` per reading)."""

    def __init__(self, start: float = 1_700_000_000.0, tick: float = 0.0) -> None:
        self.now, self.tick, self.sleeps = start, tick, []

    def clock(self) -> float:
        self.now += self.tick
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def scripted_factory(captures: list[FakeCapture | Exception]):
    opened: list[str | int] = []

    def factory(target):
        opened.append(target)
        item = captures.pop(0) if captures else FakeCapture(opened=False)
        if isinstance(item, Exception):
            raise item
        return item

    return factory, opened


def test_reconnects_with_doubling_backoff_until_live():
    time = FakeTime()
    refusals = [FakeCapture(opened=False) for _ in range(5)]
    factory, opened = scripted_factory([*refusals, FakeCapture(frames=3)])
    transitions = []
    source = LiveSource(
        "rtsp://user:secret@cam.local/stream1",
        camera_id="kerb",
        backoff=Backoff(1.0, 8.0),
        clock=time.clock,
        sleep=time.sleep,
        capture_factory=factory,
        on_state=lambda old, new, reason: transitions.append(new.value),
    )
    frames = list(itertools.islice(source, 3))
    assert time.sleeps == [1, 2, 4, 8, 8]
    assert transitions == ["lost", "connecting"] * 5 + ["live"]
    assert [f.timestamp for f in frames] == [time.now] * 3  # wall clock at grab
    assert [f.index for f in frames] == [0, 1, 2]
    assert all(c.released for c in refusals)
    assert len(opened) == 6
    source.close()
    assert source.state is SourceState.CLOSED


def test_a_drop_after_live_goes_lost_and_starts_backoff_again():
    time = FakeTime(tick=0.1)
    first, second = FakeCapture(frames=2), FakeCapture(frames=2)
    factory, _ = scripted_factory([first, FakeCapture(opened=False), second])
    states = []
    source = LiveSource(
        0,
        backoff=Backoff(1.0, 60.0),
        clock=time.clock,
        sleep=time.sleep,
        capture_factory=factory,
        on_state=lambda old, new, reason: states.append((new.value, reason)),
    )
    frames = list(itertools.islice(source, 4))
    assert [f.index for f in frames] == [0, 1, 2, 3]
    assert time.sleeps == [1, 2]  # the failures after the drop start from `initial_s`
    assert [s for s, _ in states] == ["live", "lost", "connecting", "lost", "connecting", "live"]
    assert "stopped delivering" in states[1][1] and first.released
    assert source.reconnects == 2


def test_exceptions_from_a_dead_camera_never_escape():
    time = FakeTime()
    factory, opened = scripted_factory([RuntimeError("cv2 exploded"), OSError("no route")])
    source = LiveSource(
        "rtsp://x/y",
        clock=time.clock,
        sleep=time.sleep,
        capture_factory=factory,
        backoff=Backoff(0.5, 2.0),
    )

    def sleep_then_close(seconds: float) -> None:
        time.sleep(seconds)
        if len(time.sleeps) == 4:
            source.close()

    source._sleep = sleep_then_close
    assert list(source) == []  # ends only because it was closed
    assert time.sleeps == [0.5, 1.0, 2.0, 2.0]
    assert len(opened) == 4
    assert source.state is SourceState.CLOSED


def test_fps_cap_on_a_live_camera_skips_decoding():
    time = FakeTime(tick=0.1)  # a 10 fps camera
    capture = FakeCapture(frames=10)
    source = LiveSource(
        "http://cam/mjpg",
        fps_cap=5,
        clock=time.clock,
        sleep=time.sleep,
        capture_factory=lambda _: capture,
    )
    frames = list(itertools.islice(source, 5))
    assert [f.index for f in frames] == [0, 2, 4, 6, 8]
    assert capture.grabbed == 9 and capture.retrieved == 5


def test_state_changes_are_logged_without_the_password(caplog):
    time = FakeTime()
    factory, _ = scripted_factory([FakeCapture(opened=False), FakeCapture(frames=1)])
    source = LiveSource(
        "rtsp://admin:hunter2@10.0.0.5/s",
        camera_id="pole7",
        clock=time.clock,
        sleep=time.sleep,
        capture_factory=factory,
    )
    with caplog.at_level(logging.INFO, logger="cameras.state"):
        next(iter(source))
    text = caplog.text
    assert "camera pole7: connecting -> lost (cannot open; retrying in" in text
    assert "lost -> connecting" in text and "connecting -> live" in text
    assert "hunter2" not in text and "admin:***@10.0.0.5" in text
    assert _redact("rtsp://cam/s") == "rtsp://cam/s"


# -- open_source ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("rtsp://cam.local/stream1", "stream"),
        ("https://cam.local/mjpg", "stream"),
        ("0", "usb"),
        (2, "usb"),
        ("/dev/video0", "usb"),
        ("scene:demo", "scene"),
        ("recordings/monday.mp4", "file"),
    ],
)
def test_source_kind_is_guessed_from_the_url(url, kind):
    assert source_kind(url) == kind


def test_open_source_builds_the_right_source(tmp_path):
    assert source_kind(str(tmp_path)) == "folder"
    usb = open_source("1", camera_id="usb-cam", capture_factory=lambda _: FakeCapture())
    assert isinstance(usb, LiveSource) and usb.target == 1 and usb.camera_id == "usb-cam"
    spec = SourceSpec(url="rtsp://a/b", backoff_initial_s=2, backoff_max_s=10, backoff_jitter=0)
    stream = open_source(spec)
    assert isinstance(stream, LiveSource) and stream.state is SourceState.CONNECTING
    assert (stream.backoff.initial_s, stream.backoff.max_s) == (2, 10)


def test_source_spec_refuses_unknown_and_bad_fields():
    with pytest.raises(ValidationError, match="fps_cpa"):
        SourceSpec.model_validate({"url": "rtsp://a/b", "fps_cpa": 5})
    with pytest.raises(ValidationError, match="backoff_initial_s"):
        SourceSpec(url="rtsp://a/b", backoff_initial_s=30, backoff_max_s=10)
