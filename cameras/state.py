"""The life of a frame source: its state, the protocol every source follows, and the log of
its transitions.

An edge box is unattended for months, so whoever watches it (the health topic, an installer
with `roadguard`) must see at a glance whether a camera is `live`, still `connecting`, `lost`
and retrying, or `closed` on purpose. Every change is logged once, with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cameras.frames import Frame
from cameras.ratecap import FrameRateCap

log = logging.getLogger(__name__)


class SourceState(StrEnum):
    CONNECTING = "connecting"  # opening, or reopening after a loss
    LIVE = "live"  # frames are arriving
    LOST = "lost"  # failed to open or stopped delivering; waiting to retry
    CLOSED = "closed"  # closed by its owner, or a file/scene reached its end
    FAILED = "failed"  # a file or folder that cannot be read: retrying cannot help


@runtime_checkable
class FrameSource(Protocol):
    """What every camera source offers: frames by iteration, a visible state, `close()`.

    Iterating yields frames until the source ends (a file or scene at its end) or is closed.
    A live source never raises out of its iterator because a camera died: it goes `lost`,
    waits, and reconnects.
    """

    camera_id: str

    @property
    def state(self) -> SourceState: ...

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


# Called as listener(old, new, reason) on every transition, from the iterating thread (or
# the one calling `close()`).
StateListener = Callable[[SourceState, SourceState, str], None]


class SourceLifecycle:
    """Holds one source's state, logs each transition and tells an optional listener."""

    def __init__(self, camera_id: str, listener: StateListener | None = None) -> None:
        self.camera_id = camera_id
        self.state = SourceState.CONNECTING
        self.reason = "not started"
        self._listener = listener

    def enter(self, state: SourceState, reason: str = "") -> None:
        if state is self.state:
            return
        old, self.state, self.reason = self.state, state, reason
        level = {SourceState.LOST: logging.WARNING, SourceState.FAILED: logging.ERROR}.get(
            state, logging.INFO
        )
        log.log(
            level,
            "camera %s: %s -> %s%s",
            self.camera_id,
            old.value,
            state.value,
            f" ({reason})" if reason else "",
        )
        if self._listener is not None:
            self._listener(old, state, reason)


class HasLifecycle:
    """A source's visible state and why it is in it, read from its `SourceLifecycle`: what
    the node's health report and metrics show for every kind of source."""

    _lifecycle: SourceLifecycle

    @property
    def state(self) -> SourceState:
        return self._lifecycle.state

    @property
    def state_reason(self) -> str:
        return self._lifecycle.reason


class FiniteSource(HasLifecycle):
    """What files, folders and scripted scenes share: a camera id, a frame-rate cap, a
    lifecycle, and a `close()` their frame loops check between frames."""

    def __init__(
        self, camera_id: str, fps_cap: float | None, on_state: StateListener | None
    ) -> None:
        self.camera_id = camera_id
        self.cap = FrameRateCap(fps_cap)
        self._lifecycle = SourceLifecycle(camera_id, on_state)
        self._closed = False

    def close(self) -> None:
        self._closed = True
        if self.state is not SourceState.FAILED:  # closing a failed source does not mend it
            self._lifecycle.enter(SourceState.CLOSED, "closed")

    def fail(self, reason: str) -> None:
        """The recording cannot be read at all (missing, not a video, no images): say so
        once, and stay failed; what the node does with a failed camera is its business."""
        self._lifecycle.enter(SourceState.FAILED, reason)
