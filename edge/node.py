"""The edge node: one worker thread per camera, all feeding one sink.

A camera that fails (dead stream, corrupt frame, a detector error on one frame) is logged and
retried in its own thread; it never stops the other cameras or the node.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from announcer.messages import WarningStep
from announcer.service import Announcer, default_cache
from announcer.speech import SpeechUnavailable
from cameras.frames import Frame
from cameras.scene import SceneSource
from edge.config import CameraConfig, SiteConfig
from edge.evidence import EvidenceStore
from edge.pipeline import CameraPipeline, FrameDetector
from edge.plates import ScenePlates
from edge.sinks import EpisodeSink

log = logging.getLogger(__name__)

SourceFactory = Callable[[CameraConfig], Iterable[Frame]]


def open_camera(camera: CameraConfig) -> Iterable[Frame]:
    """Frames of a configured camera: a scripted scene (`scene:NAME`) or an OpenCV source."""
    from cameras.sources import open_source

    if camera.source.startswith("scene:"):
        from cameras.scene import load_scene

        return load_scene(camera.source.removeprefix("scene:"), camera_id=camera.id)
    return open_source(camera.source, camera_id=camera.id, fps_cap=camera.fps)


@dataclass
class EdgeNode:
    site: SiteConfig
    detector: FrameDetector
    sink: EpisodeSink
    source_factory: SourceFactory = open_camera
    stop: threading.Event = field(default_factory=threading.Event)
    max_frames: int | None = None
    pipelines: dict[str, CameraPipeline] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    announcer: Announcer | None = None

    def __post_init__(self) -> None:
        evidence = EvidenceStore(self.site.output.evidence_dir)
        if self.announcer is None and self.site.announcer.enabled:
            self.announcer = start_announcer(self.site)
        for camera in self.site.cameras:
            self.pipelines[camera.id] = CameraPipeline(
                self.site, camera, self.detector, self.sink, evidence, announcer=self.announcer
            )
            self.errors[camera.id] = 0

    def run(self) -> None:
        """Run every camera until its source ends (files, scenes) or `stop` is set."""
        threads = [
            threading.Thread(target=self._run_camera, args=(camera,), name=f"camera-{camera.id}")
            for camera in self.site.cameras
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if self.announcer is not None:
            self.announcer.close()  # let the last warning finish playing
            for pipeline in self.pipelines.values():
                pipeline.apply_playback_results()

    def _run_camera(self, camera: CameraConfig) -> None:
        pipeline = self.pipelines[camera.id]
        try:
            frames = self.source_factory(camera)
            if isinstance(frames, SceneSource):  # a scripted scene knows its plates
                pipeline.plate_reader = ScenePlates(frames)
            for frame in frames:
                if self.stop.is_set() or (
                    self.max_frames is not None and pipeline.stats.frames >= self.max_frames
                ):
                    break
                try:
                    pipeline.process(frame)
                except Exception:  # one bad frame must not end the camera
                    self.errors[camera.id] += 1
                    log.exception("camera %s: frame %d failed", camera.id, frame.index)
        except Exception:
            self.errors[camera.id] += 1
            log.exception("camera %s stopped", camera.id)
        finally:
            close = getattr(locals().get("frames"), "close", None)
            if callable(close):
                close()
            log.info("camera %s finished: %s", camera.id, pipeline.stats)


def start_announcer(site: SiteConfig) -> Announcer | None:
    """The node's announcer with every zone's warnings rendered ahead of time; None (and a
    clear error) when this box cannot speak, since the ladder must run regardless."""
    try:
        announcer = Announcer(site.announcer, default_cache(site.announcer))
    except SpeechUnavailable as exc:
        log.error("voice warnings off: %s", exc)
        return None
    steps = []
    for camera in site.cameras:
        for zone in camera.zones:
            policy = site.policy_for(zone)
            for n, left in ((1, policy.repeat_s + policy.final_s), (2, policy.final_s)):
                steps.append(WarningStep("prepare", zone.id, zone.name or zone.id, n, left, 0.0))
    rendered = announcer.prepare(steps)
    log.info(
        "announcer: %d clip(s) ready (%d rendered now), languages %s, outputs %s",
        len(steps),
        rendered,
        announcer.spoken_languages,
        [o.name for o in announcer.outputs],
    )
    return announcer
