"""The edge node: one worker thread per camera, all feeding one sink and one detector worker.

A camera that fails (dead stream, corrupt frame, a detector error on one frame) is logged and
retried in its own thread; it never stops the other cameras or the node. A recording that
cannot be read at all (a missing file) is not retried: it is a failed camera, said once, in
the log, the health report and the metrics, and the others carry on.

The cameras share one `DetectorWorker` (models/worker.py): the model runs at most as many
frames at once as the node allows (`detector.threads`, one core each), instead of every
camera running it at once and oversubscribing the cores. A detector handed in directly
(tests) runs one frame at a time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from announcer.messages import WarningStep
from announcer.service import Announcer, default_cache
from announcer.speech import SpeechUnavailable
from cameras.backoff import Backoff
from cameras.frames import Frame
from cameras.recorded import SourceUnavailable
from cameras.scene import SceneSource
from configbase import data_dir
from edge.config import CameraConfig, SiteConfig
from edge.evidence import EvidenceStore
from edge.persistence import EpisodeStore
from edge.pipeline import CameraPipeline, FrameDetector, PipelineStats
from edge.plates import OcrPlates, PlateSource, PlateStage, ScenePlates
from edge.retention import PruneResult, prune_evidence
from edge.sinks import EpisodeSink, close_if_closable
from models.worker import DetectorWorker

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
    # Called with the node's health every `health_interval_s` while it runs (the MQTT link's
    # `publish_health`), and once more at the end.
    health_reporter: Callable[..., Any] | None = None
    health_interval_s: float = 60.0
    sources: dict[str, Iterable[Frame]] = field(default_factory=dict)
    # The supervisor: a camera with no frame for `stall_s` is reopened; a failed source is
    # reopened after a back-off starting at `restart_backoff_s`.
    stall_s: float = 30.0
    restart_backoff_s: float = 1.0
    restarts: dict[str, int] = field(default_factory=dict)
    frame_at: dict[str, float] = field(default_factory=dict)
    # True for an episode whose messages still wait in the outbox (its evidence is kept).
    keep_evidence: Callable[[str], bool] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.detector, DetectorWorker):
            self.detector = DetectorWorker(self.detector)
        self._stalled: set[str] = set()
        self._halt = threading.Event()  # set to stop the cameras for a reload
        self._pending: SiteConfig | None = None
        self._applied = threading.Event()
        self._reload_lock = threading.Lock()
        self._build(self.site)

    def _build(self, site: SiteConfig) -> None:
        """The parts made from the site config (again on a reload)."""
        self.site = site
        self.evidence = EvidenceStore(site.output.evidence_dir)
        self.state_store = EpisodeStore(
            site.output.state_file or data_dir() / f"state-{site.node_id}.db"
        )
        if self.announcer is None and site.announcer.enabled:
            self.announcer = start_announcer(site)
        self.plate_source: PlateSource | None = None
        if site.plates is not None:
            try:
                self.plate_source = OcrPlates(site.plates)
            except ImportError as exc:  # the optional `plates` extra is not installed
                log.error("plate reading off: %s", exc)
        self.pipelines = {
            camera.id: CameraPipeline(
                site,
                camera,
                self.detector,
                self.sink,
                self.evidence,
                announcer=self.announcer,
                state_store=self.state_store,
            )
            for camera in site.cameras
        }
        for camera in site.cameras:
            self.errors.setdefault(camera.id, 0)

    def run(self) -> None:
        """Run every camera until its source ends (files, scenes) or `shutdown()`; a reload
        stops the cameras, rebuilds them from the new config and starts them again."""
        cameras_done = threading.Event()
        helpers = [
            threading.Thread(target=target, args=(cameras_done,), name=name, daemon=True)
            for name, target in (("health", self._report_health), ("watchdog", self._watch))
        ]
        for helper in helpers:
            helper.start()
        while True:
            self._run_cameras()
            if self._pending is None or self.stop.is_set():
                break
            self._apply_pending()
        if self.announcer is not None:
            self.announcer.close()  # let the last warning finish playing
            for pipeline in self.pipelines.values():
                pipeline.apply_playback_results()
        cameras_done.set()
        for helper in helpers:
            helper.join()
        self.detector.close()

    def _run_cameras(self) -> None:
        threads = [
            threading.Thread(target=self._run_camera, args=(camera,), name=f"camera-{camera.id}")
            for camera in self.site.cameras
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    def shutdown(self) -> None:
        """Stop everything, also cameras blocked waiting for a frame."""
        self.stop.set()
        self._close_sources()

    def _close_sources(self) -> None:
        for source in list(self.sources.values()):
            close_if_closable(source)

    def _halted(self) -> bool:
        return self.stop.is_set() or self._halt.is_set()

    # -- reload ------------------------------------------------------------------------------
    def reload_from(self, path: Path, timeout: float = 60.0) -> dict[str, Any]:
        """Apply a new site config without restarting the process (SIGHUP, `cmd/reload`).

        An invalid file is refused with its error and the running config stays. Open
        episodes carry over through the state file: a reload does not re-warn anybody."""
        from edge.config_loader import ConfigError, load_site_config

        try:
            site = load_site_config(path)
        except ConfigError as exc:
            raise ValueError(f"new config refused, the old one keeps running: {exc}") from exc
        if site.node_id != self.site.node_id:
            raise ValueError(
                f"new config refused: node_id {site.node_id!r} is not this node's "
                f"({self.site.node_id!r})"
            )
        with self._reload_lock:
            self._applied.clear()
            self._pending = site
            self._halt.set()
            self._close_sources()
            if not self._applied.wait(timeout):
                raise RuntimeError("the cameras did not stop for the reload in time")
        log.warning("config reloaded from %s", path)
        return {
            "reloaded": str(path),
            "cameras": [c.id for c in site.cameras],
            "zones": sum(len(c.zones) for c in site.cameras),
        }

    def _apply_pending(self) -> None:
        site, self._pending = self._pending, None
        assert site is not None
        for pipeline in self.pipelines.values():  # the state file holds every open episode
            if pipeline.book is not None and pipeline.last_timestamp is not None:
                self.state_store.save(pipeline.camera.id, pipeline.book, pipeline.last_timestamp)
        self.state_store.close()
        if self.announcer is not None and site.announcer != self.site.announcer:
            self.announcer.close()
            self.announcer = None
        self._build(site)
        self._halt.clear()
        self._applied.set()

    # -- health ------------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """What an operator needs to know about a box on a pole: per camera state, frame
        rate and detector latency; the speaker; evidence that could not be saved."""
        now = time.monotonic()
        cameras = []
        for camera_id, pipeline in self.pipelines.items():
            source = self.sources.get(camera_id)
            state = getattr(source, "state", None)
            detail = getattr(source, "state_reason", None)
            cameras.append(
                {
                    "camera_id": camera_id,
                    "state": str(state) if state is not None else "starting",
                    "detail": detail[:200] if detail else None,
                    "fps": round(pipeline.stats.fps(now), 2),
                    "detector_latency_ms": round(pipeline.stats.detector_ms, 2),
                    "errors": self.errors.get(camera_id, 0),
                    "restarts": self.restarts.get(camera_id, 0),
                    "reconnects": getattr(source, "reconnects", 0),
                }
            )
        report: dict[str, Any] = {
            "cameras": cameras,
            "evidence_failures": self.evidence.failures,
            "state_failures": sum(p.stats.state_failures for p in self.pipelines.values()),
        }
        if self.announcer is not None:
            report["announcements"] = dict(self.announcer.counts)
            report["speaker_error"] = self.announcer.last_error
        return report

    def _report_health(self, cameras_done: threading.Event) -> None:
        """Every `health_interval_s`: tell the centre how the node is, and keep the evidence
        folder within its retention limits."""
        while True:
            try:
                if self.health_reporter is not None:
                    self.health_reporter(**self.health())
                self.prune_evidence()
            except Exception:  # housekeeping is best effort; it must never stop the node
                log.exception("health report or evidence retention failed")
            if cameras_done.is_set():
                return
            cameras_done.wait(self.health_interval_s)  # then one last round at the end

    def prune_evidence(self, now: float | None = None) -> PruneResult:
        """Apply the retention policy; open episodes and those the centre has not had yet
        (`keep_evidence`, the outbox) are never pruned."""
        open_ids = {
            episode.id
            for pipeline in self.pipelines.values()
            if pipeline.book is not None
            for episode in pipeline.book.open
        }

        def keep(episode_id: str) -> bool:
            unsent = self.keep_evidence is not None and self.keep_evidence(episode_id)
            return episode_id in open_ids or unsent

        result = prune_evidence(
            self.site.output.evidence_dir, self.site.output.retention, keep, now
        )
        if result.deleted:
            log.info("retention: deleted the evidence of %d episode(s)", len(result.deleted))
        return result

    def _run_camera(self, camera: CameraConfig) -> None:
        """The camera's worker: runs its source, and when the source fails (raises, or the
        watchdog finds it stuck) opens it again after a back-off. A file or scene that
        reaches its end is done; a live source never ends on its own."""
        pipeline = self.pipelines[camera.id]
        backoff = Backoff(self.restart_backoff_s, max(self.restart_backoff_s, 60.0))
        while not self._halted():
            finished = self._run_source(camera, pipeline)
            if finished or self._halted():
                break
            delay = backoff.next_delay()
            self.restarts[camera.id] = self.restarts.get(camera.id, 0) + 1
            log.warning("camera %s: restarting its source in %.1f s", camera.id, delay)
            if self.stop.wait(delay):
                break
        log.info("camera %s finished: %s", camera.id, pipeline.stats)

    def _run_source(self, camera: CameraConfig, pipeline: CameraPipeline) -> bool:
        """One life of a camera's source; True when it ended normally (end of file/scene)."""
        frames: Iterable[Frame] | None = None
        self._stalled.discard(camera.id)
        try:
            frames = self.source_factory(camera)
            self.sources[camera.id] = frames
            self.frame_at[camera.id] = time.monotonic()
            if isinstance(frames, SceneSource):  # a scripted scene knows its plates
                pipeline.plates = PlateStage(ScenePlates(frames), self.site.plates)
            elif self.plate_source is not None:
                pipeline.plates = PlateStage(self.plate_source, self.site.plates)
            for frame in _timed_frames(frames, pipeline.stats):
                self.frame_at[camera.id] = time.monotonic()
                if self._halted() or (
                    self.max_frames is not None and pipeline.stats.frames >= self.max_frames
                ):
                    return True
                try:
                    pipeline.process(frame)
                except Exception:  # one bad frame must not end the camera
                    self.errors[camera.id] += 1
                    log.exception("camera %s: frame %s failed", camera.id, _index(frame))
            return camera.id not in self._stalled or self._halted()
        except SourceUnavailable:  # its state says why, once; retrying a missing file is noise
            self.errors[camera.id] += 1
            return True
        except Exception:
            self.errors[camera.id] += 1
            log.exception("camera %s: source failed", camera.id)
            return False
        finally:
            self.frame_at.pop(camera.id, None)  # not running: nothing for the watchdog
            close_if_closable(frames)

    def _watch(self, cameras_done: threading.Event) -> None:
        """Close the source of a camera whose frames stopped coming (a hung stream), so its
        worker opens it again."""
        while not cameras_done.wait(max(0.05, self.stall_s / 4)):
            now = time.monotonic()
            for camera_id, seen in list(self.frame_at.items()):
                if now - seen <= self.stall_s or camera_id in self._stalled:
                    continue
                self._stalled.add(camera_id)
                self.errors[camera_id] += 1
                log.error("camera %s: no frame for %.0f s; reopening it", camera_id, now - seen)
                close_if_closable(self.sources.get(camera_id))


def _timed_frames(frames: Iterable[Frame], stats: PipelineStats) -> Iterator[Frame]:
    """The frames, with the time spent waiting for each (reading and decoding it, or a live
    camera's next frame) added to the `source` stage."""
    iterator = iter(frames)
    while True:
        started = time.perf_counter()
        frame = next(iterator, None)
        stats.stages["source"] += time.perf_counter() - started
        if frame is None:
            return
        yield frame


def _index(frame: object) -> object:
    return getattr(frame, "index", "?")


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
            for n in (1, 2):
                left = policy.seconds_to_violation(n)
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
