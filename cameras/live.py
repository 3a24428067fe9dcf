"""Live cameras (RTSP/HTTP streams, USB devices) that reconnect by themselves.

A roadside camera drops: power cuts, a flaky uplink, a switch rebooting. The source hides
that from the pipeline: when the stream fails to open or stops delivering, the state goes
`lost`, the source waits (exponential back-off) and reconnects, and iteration simply resumes
with the next frame. Nothing raises out of the iterator because a camera died; only
`close()` ends it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator

from cameras.backoff import Backoff
from cameras.capture import Capture, CaptureFactory, opencv_capture
from cameras.frames import Frame
from cameras.ratecap import FrameRateCap
from cameras.state import HasLifecycle, SourceLifecycle, SourceState, StateListener

log = logging.getLogger(__name__)


class LiveSource(HasLifecycle):
    """Frames from a stream URL or a USB device index, stamped with the wall clock at grab.

    - `clock`: the capture timestamp (seconds since the epoch) read right after `grab()`.
    - `sleep`: waits out a back-off; by default it wakes early when `close()` is called.
    - `fps_cap`: frames over the cap are grabbed (to keep the stream's buffer current) but
      never decoded.
    - `frame.index` counts grabbed frames since the source was created, across reconnects.
    """

    def __init__(
        self,
        target: str | int,
        *,
        camera_id: str = "cam",
        fps_cap: float | None = None,
        backoff: Backoff | None = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], object] | None = None,
        capture_factory: CaptureFactory = opencv_capture,
        on_state: StateListener | None = None,
    ) -> None:
        self.target = target
        self.camera_id = camera_id
        self.backoff = backoff or Backoff()
        self.cap = FrameRateCap(fps_cap)
        self._clock = clock
        self._closed = threading.Event()
        self._sleep = sleep or self._closed.wait
        self._factory = capture_factory
        self._lifecycle = SourceLifecycle(camera_id, on_state)
        self._capture: Capture | None = None
        self._grabbed = 0
        self.reconnects = 0

    def close(self) -> None:
        """Stop iterating (also from another thread); the capture is released by the loop."""
        self._closed.set()
        self._lifecycle.enter(SourceState.CLOSED, "closed")

    def __iter__(self) -> Iterator[Frame]:
        try:
            while not self._closed.is_set():
                if self._capture is None and not self._open():
                    continue
                frame = self._next_frame()
                if frame is not None:
                    yield frame
        finally:
            self._release()
            if self._closed.is_set():  # a loss logged while closing must not be the last word
                self._lifecycle.enter(SourceState.CLOSED, "closed")

    def _open(self) -> bool:
        self._lifecycle.enter(SourceState.CONNECTING, f"opening {_redact(self.target)}")
        try:
            capture = self._factory(self.target)
            opened = bool(capture.isOpened())
        except Exception as exc:  # cv2.error, a bad URL: all mean "not now"
            log.debug("camera %s: open failed", self.camera_id, exc_info=True)
            self._lose(f"cannot open: {exc}")
            return False
        if not opened:
            capture.release()
            self._lose("cannot open")
            return False
        self._capture = capture
        return True

    def _next_frame(self) -> Frame | None:
        assert self._capture is not None
        try:
            if not self._capture.grab():
                self._lose("stream stopped delivering frames")
                return None
            timestamp = self._clock()
            index = self._grabbed
            self._grabbed += 1
            if self.state is not SourceState.LIVE:
                self._lifecycle.enter(SourceState.LIVE, "frames arriving")
                self.backoff.reset()
            if not self.cap.admit(timestamp):
                return None
            ok, image = self._capture.retrieve()
        except Exception as exc:
            log.debug("camera %s: read failed", self.camera_id, exc_info=True)
            self._lose(f"read failed: {exc}")
            return None
        if not ok or image is None:
            self._lose("frame could not be decoded")
            return None
        return Frame(self.camera_id, index, timestamp, image)

    def _lose(self, reason: str) -> None:
        self._release()
        if self._closed.is_set():
            return
        delay = self.backoff.next_delay()
        self._lifecycle.enter(SourceState.LOST, f"{reason}; retrying in {delay:.1f} s")
        self.reconnects += 1
        self._sleep(delay)

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            try:
                capture.release()
            except Exception:
                log.debug("camera %s: release failed", self.camera_id, exc_info=True)


def _redact(target: str | int) -> str:
    """The target for logs, without a password in `rtsp://user:pass@host/...`."""
    text = str(target)
    scheme, sep, rest = text.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        credentials, host = rest.split("@", 1)
        return f"{scheme}://{credentials.split(':', 1)[0]}:***@{host}"
    return text
