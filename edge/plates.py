"""Licence plates on the ladder: warning 2 may name the plate, and a plate seen again in the
same zone within its cooldown is not warned or ticketed again.

Reading is costly (~140 ms a vehicle on an edge CPU), so only vehicles in an open episode are
read, at most every `every_s` each, and no single read is trusted: reads are voted per
episode (`models.plates.PlateVote`) and a plate is set only when they agree. The OCR reader
plugs in as a `PlateSource`; scripted scenes know their actors' plates and answer from the
script, so the demo and the tests run the plate path without an OCR model.
"""

from __future__ import annotations

import logging
from typing import Protocol

import numpy as np

from cameras.frames import Frame
from cameras.scene import SceneSource
from edge.config import PlatesConfig
from edge.episodes import Episode
from edge.geometry import box_iou
from models.plates.voting import PlateVote

log = logging.getLogger(__name__)


class PlateSource(Protocol):
    def sight(self, frame: Frame, box: np.ndarray) -> tuple[str, float] | None:
        """(plate text, confidence) of the vehicle inside `box`, or None."""
        ...


class OcrPlates:
    """The RapidOCR reader of `models.plates` on the vehicle's box."""

    def __init__(self, config: PlatesConfig) -> None:
        from models.plates import OcrPlateReader

        self.reader = OcrPlateReader(min_confidence=config.min_confidence)
        self.reader.engine  # noqa: B018 - load now: a missing extra is a start-up error

    def sight(self, frame: Frame, box: np.ndarray) -> tuple[str, float] | None:
        reading = self.reader.read_plate(frame.image, box)
        if reading is None or reading.plate is None:
            return None
        return reading.plate.text, reading.confidence


class ScenePlates:
    """The plate the scene script gives the actor drawn where `box` is."""

    def __init__(self, scene: SceneSource, min_iou: float = 0.5) -> None:
        self.scene, self.min_iou = scene, min_iou

    def sight(self, frame: Frame, box: np.ndarray) -> tuple[str, float] | None:
        best, best_iou = None, self.min_iou
        for truth in self.scene.truth(frame.index).values():
            iou = box_iou(np.asarray(truth.box, np.float32), box)
            if truth.plate and iou >= best_iou:
                best, best_iou = truth.plate, iou
        return (best, 1.0) if best else None


class PlateStage:
    """Per-episode votes; `update` returns the episodes whose plate was just decided."""

    def __init__(self, source: PlateSource, config: PlatesConfig | None = None) -> None:
        self.source = source
        self.config = config or PlatesConfig()
        self._votes: dict[str, PlateVote] = {}
        self._tried: dict[str, float] = {}
        self.reads = 0

    def update(self, frame: Frame, episodes: list[Episode]) -> list[tuple[Episode, str]]:
        decided = []
        open_ids = {e.id for e in episodes}
        for stale in [k for k in self._votes if k not in open_ids]:
            del self._votes[stale]
            self._tried.pop(stale, None)
        for episode in episodes:
            if episode.plate is not None or episode.box is None or episode.awaiting_sighting:
                continue
            if episode.last_seen != frame.timestamp:  # not in view right now
                continue
            if frame.timestamp - self._tried.get(episode.id, -np.inf) < self.config.every_s:
                continue
            self._tried[episode.id] = frame.timestamp
            self.reads += 1
            try:
                sighting = self.source.sight(frame, episode.box)
            except Exception:  # a reader failure costs a read, never the frame
                log.exception("plate read failed")
                continue
            vote = self._votes.setdefault(episode.id, PlateVote(min_votes=self.config.min_votes))
            decision = vote.add(*(sighting or (None, 0.0)))
            if decision is not None:
                decided.append((episode, decision.plate.text))
        return decided
