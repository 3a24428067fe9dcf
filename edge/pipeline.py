"""One camera's path from frame to episode transitions:
frame → motion gate → detector → tracker → zones/episodes → ladder → evidence → sink."""

from __future__ import annotations

import logging
import queue
import sqlite3
import time
import warnings
from collections import Counter, deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

import numpy as np

from announcer.clips import wav_bytes
from announcer.messages import WarningStep
from announcer.service import Announcement, Announcer
from cameras.frames import Frame
from edge.config import CameraConfig, SiteConfig
from edge.episodes import Episode, EpisodeBook, EpisodeEvent
from edge.evidence import EvidenceStore
from edge.motion import MotionGate
from edge.persistence import EpisodeStore, restore_book
from edge.plates import PlateStage
from edge.sinks import EpisodeSink
from edge.tracking import ByteTracker, Tracker
from edge.zones import Zone
from models.detections import Detections
from mqtt.payloads import AnnouncementRecord, EpisodeRecord, Transition

log = logging.getLogger(__name__)

# Frame timestamps below this are "seconds since the start" (files, scenes), not epoch time.
_EPOCH_2001 = 1e9
# Open episodes are saved at every transition and at least this often (frame time), so a
# restart finds each vehicle's last sighting at most this old.
SAVE_EVERY_S = 5.0


class FrameDetector(Protocol):
    def detect(self, image: np.ndarray) -> Detections: ...

    def detect_regions(
        self, image: np.ndarray, regions: list[tuple[int, int, int, int]]
    ) -> Detections: ...


@dataclass
class PipelineStats:
    frames: int = 0
    detector_calls: int = 0
    detector_seconds: float = 0.0
    events: int = 0
    transitions: Counter[str] = field(default_factory=Counter)  # stopped, warned, violation...
    state_failures: int = 0  # episode state that could not be saved (a full disk)
    # When the last frames were processed (monotonic): the frame rate derives from them, so
    # reading it (health, a metrics scrape) never disturbs it.
    frame_times: deque[float] = field(default_factory=lambda: deque(maxlen=2048), repr=False)
    # Seconds (wall) in each stage: source (read + decode, timed by the node), gate,
    # detector (with its wait for the node's detector worker), tracker, episodes (rules,
    # plates, evidence, announcements, the state file).
    stages: Counter[str] = field(default_factory=Counter, repr=False)

    @property
    def detector_ms(self) -> float:
        return 1000 * self.detector_seconds / self.detector_calls if self.detector_calls else 0.0

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.stages[name] += time.perf_counter() - started

    def fps(self, now: float, window_s: float = 10.0) -> float:
        """Frames per second over the last `window_s` (or since the first frame, if later)."""
        recent = [t for t in self.frame_times if now - t <= window_s]
        if not recent:
            return 0.0
        span = min(window_s, now - self.frame_times[0])
        return len(recent) / span if span > 0 else 0.0


class CameraPipeline:
    def __init__(
        self,
        site: SiteConfig,
        camera: CameraConfig,
        detector: FrameDetector,
        sink: EpisodeSink,
        evidence: EvidenceStore,
        tracker: Tracker | None = None,
        wall_start: float | None = None,
        announcer: Announcer | None = None,
        plates: PlateStage | None = None,
        state_store: EpisodeStore | None = None,
    ) -> None:
        self.site, self.camera = site, camera
        self.detector, self.sink, self.evidence = detector, sink, evidence
        self.announcer, self.plates = announcer, plates
        self.state_store = state_store
        self._saved_at = float("-inf")
        self.last_timestamp: float | None = None
        # Playback results arrive from the announcer's thread; they are applied to the
        # episodes here, on the camera's thread, so a record is never read while it changes.
        self._played: queue.SimpleQueue[tuple[Episode, int, Announcement]] = queue.SimpleQueue()
        if tracker is None:
            with warnings.catch_warnings():  # sv.ByteTrack's move to `trackers`; pinned < 0.31
                warnings.simplefilter("ignore", FutureWarning)
                tracker = ByteTracker(camera.fps)
        self.tracker = tracker
        self.gate = MotionGate(site.motion_for(camera))
        self.stats = PipelineStats()
        self.book: EpisodeBook | None = None
        self._regions: list[tuple[int, int, int, int]] = []
        self._wall_start = time.time() if wall_start is None else wall_start

    def _start(self, frame: Frame) -> EpisodeBook:
        zones = [Zone(z, frame.size) for z in self.camera.zones]
        mode = self.site.detector.regions
        self._regions = [z.bounding_region(frame.size) for z in zones] if mode != "frame" else []
        if mode == "frame+zones":
            self._regions.insert(0, (0, 0, *frame.size))
        policies = {z.id: self.site.policy_for(z.config) for z in zones}
        return EpisodeBook(zones, policies, self.site.episodes, frame_width=frame.size[0])

    def moment(self, timestamp: float) -> datetime:
        """Local wall time of a frame, for zone schedules."""
        return datetime.fromtimestamp(self._epoch(timestamp))

    def _epoch(self, timestamp: float) -> float:
        """A frame's time as seconds since the epoch: live cameras stamp the wall clock,
        files and scenes count from their start (which the node saw at `wall_start`)."""
        return timestamp if timestamp >= _EPOCH_2001 else self._wall_start + timestamp

    def detect(self, image: np.ndarray) -> Detections:
        started = time.perf_counter()
        if self._regions:
            detections = self.detector.detect_regions(image, self._regions)
        else:
            detections = self.detector.detect(image)
        took = time.perf_counter() - started
        self.stats.detector_seconds += took
        self.stats.stages["detector"] += took
        self.stats.detector_calls += 1
        return detections

    def process(self, frame: Frame) -> list[EpisodeEvent]:
        if self.book is None:
            self.book = self._start(frame)
            self._restore(self.book, frame.timestamp)
        self.stats.frames += 1
        self.stats.frame_times.append(time.monotonic())
        self.last_timestamp = frame.timestamp
        self.apply_playback_results()
        with self.stats.stage("gate"):
            moved = self.gate.should_detect(frame.image, frame.timestamp)
        tracked: Detections | None = None
        if moved:
            detections = self.detect(frame.image)
            with self.stats.stage("tracker"):
                tracked = self.tracker.update(detections)
        with self.stats.stage("episodes"):
            return self._episodes(frame, tracked)

    def _episodes(self, frame: Frame, tracked: Detections | None) -> list[EpisodeEvent]:
        """The episode rules on this frame's vehicles (None: the gate skipped detection),
        then the evidence, announcements and records of whatever changed."""
        assert self.book is not None
        if tracked is not None:
            events = self.book.update(tracked, frame.timestamp, self.moment(frame.timestamp))
            if self.plates is not None:  # only vehicles in an episode are read
                for episode, plate in self.plates.update(frame, self.book.open):
                    self.book.set_plate(episode, plate, frame.timestamp)
        else:
            events = self.book.tick(frame.timestamp)
        # Saved before anything is spoken or sent (a crash in between costs a warning its
        # record, but can never make the node warn the same driver twice), and again once the
        # evidence is on disk and once the announcement is queued.
        self._save(frame.timestamp, force=bool(events))
        if events:
            for event in events:
                self._capture(event, frame)
            self._save(frame.timestamp, force=True)
            for event in events:
                self._announce(event, self.moment(frame.timestamp))
                self.sink.publish(self.record(event))
                self.stats.transitions[str(event.transition)] += 1
            self._save(frame.timestamp, force=True)
        self.stats.events += len(events)
        return events

    def _save(self, timestamp: float, force: bool) -> None:
        if self.state_store is None or self.book is None:
            return
        if force or timestamp - self._saved_at >= SAVE_EVERY_S:
            try:
                self.state_store.save(self.camera.id, self.book, timestamp)
            except (sqlite3.Error, OSError) as exc:  # a full disk must not stop the ladder
                self.stats.state_failures += 1
                log.error("camera %s: episode state not saved: %s", self.camera.id, exc)
                return
            self._saved_at = timestamp

    def _restore(self, book: EpisodeBook, now: float) -> None:
        if self.state_store is None:
            return
        state = self.state_store.load(self.camera.id)
        if state is None:
            return
        restored = restore_book(book, state, now)
        if restored:
            log.info(
                "camera %s: resumed %d open episode(s) after a restart: %s",
                self.camera.id,
                len(restored),
                ", ".join(f"{e.id[:8]} ({len(e.warnings)} warning(s))" for e in restored),
            )

    def _capture(self, event: EpisodeEvent, frame: Frame) -> None:
        """Evidence pictures of a warning or violation."""
        episode = event.episode
        if event.transition in (Transition.WARNED, Transition.VIOLATION):
            box = episode.box if episode.box is not None else episode.anchor
            step = f"warning{event.warning_number}" if event.warning_number else "violation"
            caption = f"{episode.vehicle_class} {step} {episode.zone.id}"
            saved = self.evidence.capture(
                episode.id, step, frame.image, box, episode.zone.polygon, caption
            )
            episode.evidence.extend(saved)
            if event.warning_number:
                episode.warnings[-1] = episode.warnings[-1].model_copy(update={"evidence": saved})

    def _announce(self, event: EpisodeEvent, moment: datetime) -> None:
        """Hand the warning to the announcer; the ladder never waits for the speaker."""
        if self.announcer is None or event.warning_number is None:
            return
        episode, number = event.episode, event.warning_number
        step = WarningStep(
            episode_id=episode.id,
            zone_id=episode.zone.id,
            zone_name=episode.zone.config.name or episode.zone.id,
            warning=event.warning_number,
            seconds_to_violation=episode.policy.seconds_to_violation(event.warning_number),
            decided_at=event.timestamp,
            plate=episode.plate,
            vehicle_since=episode.stopped_at,
            camera_id=self.camera.id,
        )
        announcement = self.announcer.announce(
            step, moment, on_done=lambda done: self._played.put((episode, number, done))
        )
        _note_announcement(episode, number, announcement)

    def apply_playback_results(self) -> None:
        """Write finished announcements (played, failed, refused) into their warnings."""
        while True:
            try:
                episode, number, announcement = self._played.get_nowait()
            except queue.Empty:
                return
            _note_announcement(episode, number, announcement)
            if announcement.status == "played" and announcement.audio is not None:
                self._keep_voice(episode, number, announcement)

    def _keep_voice(self, episode: Episode, number: int, announcement: Announcement) -> None:
        """The played clip becomes evidence of the warning; it travels with the episode's
        next record (the ladder's next step, or its end)."""
        assert announcement.audio is not None
        reference = self.evidence.keep_voice(episode.id, number, wav_bytes(announcement.audio))
        if reference is None:
            return
        episode.evidence.append(reference)
        warning = episode.warnings[number - 1]
        assert warning.announcement is not None
        voiced = warning.announcement.model_copy(update={"clip_evidence": reference})
        episode.warnings[number - 1] = warning.model_copy(update={"announcement": voiced})

    def record(self, event: EpisodeEvent) -> EpisodeRecord:
        occurred = datetime.fromtimestamp(self._epoch(event.timestamp), UTC)
        return event.episode.record(event, self.site.node_id, self.camera.id, occurred)


def _note_announcement(episode: Episode, number: int, announcement: Announcement) -> None:
    """What became of warning `number`'s announcement, in the episode's record of it."""
    done = AnnouncementRecord.model_validate(announcement.record())
    warning = episode.warnings[number - 1]
    episode.warnings[number - 1] = warning.model_copy(update={"announcement": done})
