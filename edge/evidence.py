"""Evidence: what an officer sees and hears before deciding on a ticket.

At each warning and at the violation: the full frame with the vehicle's box and the zone drawn
(context: where, which sign) and a crop of the vehicle (which car); for each warning that was
played, the clip the speaker played (the driver was told, in these words). A failed write
(full disk) is reported and does not stop the episode: the ladder and the log must go on.

These files are the only copy: the outbox refers to them and reads them when it sends. So a
picture is written to a temporary name, flushed to disk and renamed into place, before its
reference reaches an episode record: after a power cut a referenced file is whole or absent,
never half-written under its final name.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import cv2
import numpy as np

log = logging.getLogger(__name__)

_ZONE_COLOUR = (0, 0, 255)
_BOX_COLOUR = (0, 255, 255)


class EvidenceWriteError(OSError):
    pass


class EvidenceStore:
    def __init__(self, root: Path, jpeg_quality: int = 88) -> None:
        self.root = root
        self.quality = jpeg_quality
        self.failures = 0

    def capture(
        self,
        episode_id: str,
        step: str,
        image: np.ndarray,
        box: np.ndarray,
        zone_polygon: np.ndarray,
        caption: str,
    ) -> list[str]:
        """Write `<step>-frame.jpg` and `<step>-crop.jpg`; return their paths relative to the
        store root (empty when the write failed)."""
        annotated = annotate(image, box, zone_polygon, caption)
        crop = vehicle_crop(image, box)
        folder = self.root / episode_id
        names = [f"{episode_id}/{step}-frame.jpg", f"{episode_id}/{step}-crop.jpg"]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            for name, picture in zip(names, (annotated, crop), strict=True):
                ok, data = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
                if not ok:
                    raise EvidenceWriteError(f"JPEG encoding failed for {name}")
                write_durably(self.root / name, data.tobytes())
        except OSError as exc:
            self.failures += 1
            log.error("evidence %s of episode %s not saved: %s", step, episode_id, exc)
            return []
        return names

    def keep_voice(self, episode_id: str, warning: int, wav: bytes) -> str | None:
        """Write warning `warning`'s spoken clip as `<episode>/warning<n>-voice.wav`, so the
        officer hears what the driver heard; its reference, or None when the write failed."""
        name = f"{episode_id}/warning{warning}-voice.wav"
        try:
            (self.root / episode_id).mkdir(parents=True, exist_ok=True)
            write_durably(self.root / name, wav)
        except OSError as exc:
            self.failures += 1
            log.error("voice clip of warning %d of %s not saved: %s", warning, episode_id, exc)
            return None
        return name


def write_durably(path: Path, data: bytes) -> None:
    """Write, fsync, rename into place, fsync the folder (POSIX's durable replace)."""
    partial = path.with_name(f".{path.name}.partial")
    with open(partial, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(partial, path)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def annotate(image: np.ndarray, box: np.ndarray, polygon: np.ndarray, caption: str) -> np.ndarray:
    out = image.copy()
    cv2.polylines(out, [polygon.astype(np.int32)], True, _ZONE_COLOUR, 2)
    x0, y0, x1, y1 = (int(v) for v in box)
    cv2.rectangle(out, (x0, y0), (x1, y1), _BOX_COLOUR, 2)
    cv2.putText(out, caption, (x0, max(16, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, _BOX_COLOUR, 2)
    return out


def vehicle_crop(image: np.ndarray, box: np.ndarray, margin: float = 0.15) -> np.ndarray:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    dx, dy = (x1 - x0) * margin, (y1 - y0) * margin
    left, top = int(max(0, x0 - dx)), int(max(0, y0 - dy))
    right, bottom = int(min(width, x1 + dx)), int(min(height, y1 + dy))
    if right <= left or bottom <= top:
        return image
    return image[top:bottom, left:right]
