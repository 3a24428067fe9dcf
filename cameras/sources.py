"""Open a camera from what a site config says: a URL, a file, a folder, a USB index or a
scripted scene, each through the matching source.

Every source follows `FrameSource` (iterate for `Frame`s, a visible `state`, `close()`), so
the node runs all of them the same way. `open_source("rtsp://...")` is enough for most
cameras; `SourceSpec` holds the rarer knobs (back-off, looping, a folder's frame rate).
"""

from __future__ import annotations

import os
import random
import re
import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cameras.backoff import Backoff
from cameras.capture import CaptureFactory, opencv_capture
from cameras.live import LiveSource
from cameras.recorded import (
    ImageFolderSource,
    SourceUnavailable,
    VideoFileSource,
    image_files,
    open_video,
)
from cameras.state import FrameSource, SourceState, StateListener

__all__ = [
    "FrameSource",
    "ImageFolderSource",
    "LiveSource",
    "SourceKind",
    "SourceSpec",
    "SourceState",
    "SourceUnavailable",
    "VideoFileSource",
    "open_source",
    "source_kind",
    "source_problem",
]

SourceKind = Literal["stream", "usb", "file", "folder", "scene"]

STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt")


class SourceSpec(BaseModel):
    """Where a camera's frames come from, and how to treat the source when it misbehaves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str | int = Field(
        title="Source",
        description="rtsp:// or http(s):// URL, video file, image folder, USB index (0, 1, "
        "/dev/video0) or scene:NAME.",
    )
    kind: SourceKind | None = Field(None, description="What `url` is; guessed from it when empty.")
    camera_id: str = Field("cam", description="Camera id stamped on every frame.")
    fps_cap: float | None = Field(
        None, gt=0, le=120, description="At most this many frames per second pass (frame time)."
    )
    folder_fps: float = Field(
        5.0, gt=0, le=120, description="Frame rate an image folder was captured at."
    )
    file_fps: float | None = Field(
        None, gt=0, le=240, description="Overrides a video file's claimed frame rate."
    )
    loop: bool = Field(False, description="Files and folders restart at their end.")
    backoff_initial_s: float = Field(
        1.0, gt=0, le=3600, description="First wait before reconnecting a lost stream."
    )
    backoff_max_s: float = Field(
        60.0, gt=0, le=3600, description="Longest wait between reconnection attempts."
    )
    backoff_jitter: float = Field(
        0.1, ge=0, lt=1, description="Each wait is shortened by a random share up to this."
    )

    @model_validator(mode="after")
    def _backoff_order(self) -> SourceSpec:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self


def source_kind(url: str | int) -> SourceKind:
    """Guess what a source string names (a path that does not exist yet counts as a file)."""
    if isinstance(url, int) or re.fullmatch(r"\d+", str(url)) or str(url).startswith("/dev/video"):
        return "usb"
    text = str(url)
    if text.startswith("scene:"):
        return "scene"
    scheme = text.split("://", 1)[0].lower() if "://" in text else ""
    if scheme in STREAM_SCHEMES:
        return "stream"
    return "folder" if Path(text).is_dir() else "file"


def source_problem(url: str | int) -> str | None:
    """What is wrong with a source that can be checked before the node runs (a missing file,
    a folder without images, a video device that is absent or not readable), or None.

    Streams are not probed: a camera that is off while the installer edits the config is
    still the right camera. `config check` shows these as warnings."""
    kind = source_kind(url)
    text = str(url)
    if kind == "usb":
        device = Path(f"/dev/video{text}" if text.isdigit() else text)
        if not device.exists():
            return f"no video device {device}"
        if not os.access(device, os.R_OK | os.W_OK):
            return f"video device {device} is not readable by this user (group video?)"
    elif kind == "folder":
        if not image_files(Path(text)):
            return f"no images in {text}"
    elif kind == "file":
        try:
            open_video(Path(text)).release()
        except SourceUnavailable as exc:
            return str(exc)
    elif kind == "scene":
        from cameras.scene import scene_names

        name = text.removeprefix("scene:")
        if name not in scene_names():
            return f"no scene called {name!r} (roadguard scene list)"
    return None


def open_source(
    spec: SourceSpec | str | int | PathLike[str],
    *,
    camera_id: str | None = None,
    fps_cap: float | None = None,
    capture_factory: CaptureFactory = opencv_capture,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], object] | None = None,
    rng: random.Random | None = None,
    on_state: StateListener | None = None,
) -> FrameSource:
    """The source for `spec`; `camera_id` and `fps_cap` override the spec's own.

    Opening is lazy: a live camera connects (and reconnects) while being iterated, so a dead
    camera at start-up is a `lost` source, not an exception. Missing files and folders raise
    `SourceUnavailable` when iterated.
    """
    if not isinstance(spec, SourceSpec):
        spec = SourceSpec(url=spec if isinstance(spec, int) else str(spec))
    overrides = {k: v for k, v in (("camera_id", camera_id), ("fps_cap", fps_cap)) if v}
    if overrides:
        spec = spec.model_copy(update=overrides)
    kind = spec.kind or source_kind(spec.url)
    if kind in ("stream", "usb"):
        target: str | int = spec.url
        if kind == "usb" and re.fullmatch(r"\d+", str(spec.url)):
            target = int(spec.url)
        return LiveSource(
            target,
            camera_id=spec.camera_id,
            fps_cap=spec.fps_cap,
            backoff=Backoff(
                spec.backoff_initial_s,
                spec.backoff_max_s,
                jitter=spec.backoff_jitter,
                rng=rng or random.Random(),
            ),
            clock=clock,
            sleep=sleep,
            capture_factory=capture_factory,
            on_state=on_state,
        )
    if kind == "file":
        return VideoFileSource(
            str(spec.url),
            camera_id=spec.camera_id,
            fps_cap=spec.fps_cap,
            fps=spec.file_fps,
            loop=spec.loop,
            capture_factory=capture_factory,
            on_state=on_state,
        )
    if kind == "folder":
        return ImageFolderSource(
            str(spec.url),
            camera_id=spec.camera_id,
            fps=spec.folder_fps,
            fps_cap=spec.fps_cap,
            loop=spec.loop,
            on_state=on_state,
        )
    from cameras.scene import load_scene

    return load_scene(
        str(spec.url).removeprefix("scene:"), camera_id=spec.camera_id, fps_cap=spec.fps_cap
    )
