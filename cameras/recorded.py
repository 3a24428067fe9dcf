"""Recorded footage: video files and folders of images, stamped with their own time.

Timestamps come from the recording (the container's position, or index / fps), never from
the wall clock, so replaying a file fast or slow gives the pipeline the same timeline and
the same episodes. A recording ends at its end (or loops); a file that cannot be opened is
an error for whoever configured it, not a camera to wait for.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from cameras.capture import Capture, CaptureFactory, opencv_capture
from cameras.frames import Frame
from cameras.state import FiniteSource, SourceState, StateListener

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})


class SourceUnavailable(OSError):
    """A file or folder that cannot be read at all (missing, not a video, no images). The
    source is `failed` by then: retrying a missing file helps nobody."""


class VideoFileSource(FiniteSource):
    """Frames of a video file with the container's timestamps (seconds since its start).

    `fps` overrides the file's claimed rate for the index/fps fallback, used when the
    backend reports no usable position. With `loop`, the file restarts at its end and the
    timestamps carry on increasing, as a camera's would.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        camera_id: str = "cam",
        fps_cap: float | None = None,
        fps: float | None = None,
        loop: bool = False,
        capture_factory: CaptureFactory = opencv_capture,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(camera_id, fps_cap, on_state)
        self.path = Path(path)
        self.fps = fps
        self.loop = loop
        self._factory = capture_factory

    def __iter__(self) -> Iterator[Frame]:
        offset, index, passes = 0.0, 0, 0
        while not self._closed:
            capture = self._open()
            try:
                fps = self.fps or capture.get(cv2.CAP_PROP_FPS) or 25.0
                previous: float | None = None  # time of the previous frame in this pass
                position = 0
                while not self._closed and capture.grab():
                    previous = _pass_time(capture, position, fps, previous)
                    timestamp = offset + previous
                    position += 1
                    index += 1
                    if not self.cap.admit(timestamp):
                        continue
                    ok, image = capture.retrieve()
                    if not ok or image is None:
                        log.warning(
                            "camera %s: undecodable frame %d in %s",
                            self.camera_id,
                            position - 1,
                            self.path,
                        )
                        continue
                    self._lifecycle.enter(SourceState.LIVE, f"reading {self.path.name}")
                    yield Frame(self.camera_id, index - 1, timestamp, image)
            finally:
                capture.release()
            passes += 1
            if not self.loop or position == 0:
                break
            offset += (previous or 0.0) + 1.0 / fps
            log.info("camera %s: %s looped (pass %d)", self.camera_id, self.path.name, passes)
        self._lifecycle.enter(SourceState.CLOSED, "end of file")

    def _open(self) -> Capture:
        try:
            return open_video(self.path, self._factory)
        except SourceUnavailable as exc:
            raise _unavailable(self, str(exc)) from None


def open_video(path: Path, capture_factory: CaptureFactory = opencv_capture) -> Capture:
    """The opened video file; SourceUnavailable says why it cannot be played (the node's
    file cameras and `config check` apply the same rule)."""
    if not path.is_file():
        raise SourceUnavailable(f"no video file at {path}")
    if not os.access(path, os.R_OK):
        raise SourceUnavailable(f"video file {path} is not readable by this user")
    capture = capture_factory(str(path))
    if not capture.isOpened():
        capture.release()
        raise SourceUnavailable(f"cannot read {path} as video")
    return capture


def image_files(folder: Path) -> list[Path]:
    """The images of `folder` in natural name order (frame2 before frame10)."""
    found = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    return sorted(found, key=_natural_key)


def _unavailable(source: FiniteSource, reason: str) -> SourceUnavailable:
    """Mark `source` failed (said once, in its state) and give the error to raise."""
    source.fail(reason)
    return SourceUnavailable(f"camera {source.camera_id}: {reason}")


def _pass_time(capture: Capture, position: int, fps: float, previous: float | None) -> float:
    """Seconds from the start of this pass: the container's position of the grabbed frame, or
    position / fps where the backend reports none (or one that does not increase)."""
    seconds = capture.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
    if previous is None:
        return max(seconds, 0.0)
    if seconds > previous:
        return seconds
    return max(position / fps, previous + 1.0 / fps)


class ImageFolderSource(FiniteSource):
    """Images of a folder in natural name order (frame2 before frame10), `fps` apart.

    Timestamps are index / fps (seconds since the first image): a folder has no clock of its
    own, so the rate it was captured at is configured. Unreadable images are skipped with a
    warning; the folder's listing is taken once, when iteration starts.
    """

    def __init__(
        self,
        folder: str | Path,
        *,
        camera_id: str = "cam",
        fps: float = 5.0,
        fps_cap: float | None = None,
        loop: bool = False,
        on_state: StateListener | None = None,
    ) -> None:
        if fps <= 0:
            raise ValueError("fps must be positive")
        super().__init__(camera_id, fps_cap, on_state)
        self.folder = Path(folder)
        self.fps = fps
        self.loop = loop

    def images(self) -> list[Path]:
        if not self.folder.is_dir():
            raise _unavailable(self, f"no image folder at {self.folder}")
        found = image_files(self.folder)
        if not found:
            raise _unavailable(self, f"no images in {self.folder}")
        return found

    def __iter__(self) -> Iterator[Frame]:
        paths = self.images()
        index = 0
        while not self._closed:
            for path in paths:
                if self._closed:
                    break
                timestamp = index / self.fps
                index += 1
                if not self.cap.admit(timestamp):
                    continue
                image = _read_image(path)
                if image is None:
                    log.warning("camera %s: cannot read image %s", self.camera_id, path)
                    continue
                self._lifecycle.enter(SourceState.LIVE, f"reading {self.folder}")
                yield Frame(self.camera_id, index - 1, timestamp, image)
            if not self.loop:
                break
        self._lifecycle.enter(SourceState.CLOSED, "end of folder")


def _read_image(path: Path) -> np.ndarray | None:
    # imdecode rather than imread: imread cannot open non-ASCII paths on some platforms.
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except OSError:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None


def _natural_key(path: Path) -> list[object]:
    return [int(part) if part.isdigit() else part.lower() for part in re.split(r"(\d+)", path.name)]
