"""Licence plates for the ladder: warning 2 may name the plate, and cooldowns can key on it.

A plate reader looks at one vehicle in one frame. The OCR reader (issue 7) plugs in here; the
scripted scenes know their actors' plates and answer from the script, so the demo and tests
exercise the plate path of the ladder without an OCR model.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from cameras.frames import Frame
from cameras.scene import SceneSource
from edge.geometry import box_iou


class PlateReader(Protocol):
    def read(self, frame: Frame, box: np.ndarray) -> str | None:
        """The plate of the vehicle inside `box`, or None when it cannot be read."""
        ...


class ScenePlates:
    """The plate the scene script gives the actor drawn where `box` is."""

    def __init__(self, scene: SceneSource, min_iou: float = 0.5) -> None:
        self.scene, self.min_iou = scene, min_iou

    def read(self, frame: Frame, box: np.ndarray) -> str | None:
        best, best_iou = None, self.min_iou
        for truth in self.scene.truth(frame.index).values():
            iou = box_iou(np.asarray(truth.box, np.float32), box)
            if truth.plate and iou >= best_iou:
                best, best_iou = truth.plate, iou
        return best
