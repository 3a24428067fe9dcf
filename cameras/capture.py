"""The slice of `cv2.VideoCapture` the sources use, and the factory that opens one.

Sources take a capture factory instead of calling OpenCV directly so that tests can hand
them a capture that fails on cue (a camera that drops after N frames, refuses N times)
without a network or a camera.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import cv2
import numpy as np

# A stream that stops answering must not block a camera thread forever: FFmpeg gives up on
# opening and on each read after these, and the source then goes `lost` and reconnects.
OPEN_TIMEOUT_S = 10.0
READ_TIMEOUT_S = 10.0


class Capture(Protocol):
    def isOpened(self) -> bool: ...  # noqa: N802 (OpenCV's names)

    def grab(self) -> bool: ...

    def retrieve(self) -> tuple[bool, np.ndarray | None]: ...

    def get(self, prop: int) -> float: ...

    def release(self) -> None: ...


CaptureFactory = Callable[[str | int], Capture]


def opencv_capture(target: str | int) -> Capture:
    """Open a stream URL or file (FFmpeg, with timeouts) or a USB device index."""
    if isinstance(target, int):
        return cv2.VideoCapture(target)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        int(OPEN_TIMEOUT_S * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        int(READ_TIMEOUT_S * 1000),
    ]
    capture = cv2.VideoCapture(target, cv2.CAP_FFMPEG, params)
    if not capture.isOpened():  # a V4L path (/dev/video0) or a build without FFmpeg
        capture = cv2.VideoCapture(target)
    return capture
