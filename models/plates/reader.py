"""Reading the plate of one vehicle: find text low on the vehicle, keep what fits a format.

The engine is RapidOCR (`rapidocr-onnxruntime`, the `plates` extra): PaddleOCR's PP-OCRv4
text detector and Chinese recogniser as ONNX models inside the wheel, run on ONNX Runtime,
so nothing is downloaded at run time. It is fed the lower part of the vehicle box, never the
whole frame: the detector's cost grows with the pixels it sees (a whole 1280x720 frame costs
several times a vehicle crop), and text elsewhere in the frame (shop signs, other cars)
could pass for a plate.

The detector may split one plate into pieces ("京A" and "12345" across the separator dot), so
neighbouring pieces on one line are also tried joined; whatever the OCR returns counts only
if `models.plates.formats` accepts it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import cv2
import numpy as np

from models.plates.colour import plate_colour
from models.plates.formats import Plate, normalise, search_plate

if TYPE_CHECKING:
    from cameras.frames import Frame

__all__ = ["OcrPlateReader", "PlateEngineMissing", "PlateReading"]


class PlateEngineMissing(ImportError):
    """The OCR engine is not installed: it comes with the optional `plates` extra."""


class _Imaged(Protocol):
    image: np.ndarray


@dataclass(frozen=True)
class PlateReading:
    """One piece of text the OCR found on a vehicle.

    `plate` is None when the text holds no plate that fits a format; such readings are kept
    (not dropped) so a caller or a test can see what was read and why it was refused. `text`
    is what was read; `plate` may be a part of it (a stray character from the plate's frame
    is dropped, see `formats.search_plate`).
    `quad` holds the text's four corners in the pixels of the image that was read.
    """

    text: str  # normalised OCR text
    confidence: float  # the recogniser's mean character probability, 0-1
    quad: np.ndarray  # (4, 2) float32
    plate: Plate | None
    colour: str | None = None

    @property
    def valid(self) -> bool:
        return self.plate is not None


class OcrPlateReader:
    """Reads Chinese plates on vehicle boxes with RapidOCR (satisfies `edge.plates.PlateReader`).

    - `search_from`: the share of the vehicle box's height, from its top, that is skipped:
      plates sit on the bumper, and the roof, windows and rear-window stickers above carry
      text that is not a plate. 0 searches the whole box.
    - `det_side`: the longest side, in pixels, the text detector sees. Small (far) vehicles
      are enlarged up to it (at most `max_upscale` times) so their plate text is tall enough
      to detect; large crops are shrunk to it, which bounds the cost per vehicle.
    - `min_confidence`: the lowest recogniser confidence `read` accepts.
    - `threads`: ONNX Runtime intra-op threads per model (None: ONNX Runtime's default).

    The engine loads on first use (two ONNX sessions, ~1 s), so constructing a reader for a
    node whose plate stage may stay idle costs nothing; pass `engine` to share one.
    """

    def __init__(
        self,
        search_from: float = 0.4,
        det_side: int = 640,
        max_upscale: float = 3.0,
        min_confidence: float = 0.8,
        threads: int | None = None,
        engine: Any = None,
    ) -> None:
        if not 0.0 <= search_from < 1.0:
            raise ValueError(f"search_from must be in [0, 1), got {search_from}")
        self.search_from, self.det_side, self.max_upscale = search_from, det_side, max_upscale
        self.min_confidence, self.threads = min_confidence, threads
        self._engine, self._lock = engine, threading.Lock()

    @property
    def engine(self) -> Any:
        """The RapidOCR engine, loaded once (thread-safe: ONNX Runtime sessions may be run
        from several camera threads)."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = load_engine(self.det_side, self.threads)
        return self._engine

    def read(self, frame: Frame | _Imaged, box: np.ndarray) -> str | None:
        """The plate of the vehicle inside `box` (xyxy in `frame.image` pixels) in canonical
        form ("京A12345"), or None when no valid plate is read confidently enough."""
        reading = self.read_plate(frame.image, box)
        return reading.plate.text if reading is not None and reading.plate else None

    def read_plate(self, image: np.ndarray, box: np.ndarray | None = None) -> PlateReading | None:
        """The most confident valid plate reading at or above `min_confidence`, or None.

        This is what to feed `PlateVote`: it keeps the confidence that `read` drops."""
        for reading in self.readings(image, box):
            if reading.valid and reading.confidence >= self.min_confidence:
                return reading
        return None

    def readings(self, image: np.ndarray, box: np.ndarray | None = None) -> list[PlateReading]:
        """Every text found in the search region of `box` (the whole image when None), valid
        or not, most confident valid ones first; quads are in `image` pixels."""
        region, origin, scale = self._search_region(image, box)
        if region is None:
            return []
        result, _ = self.engine(region, use_cls=False)
        pieces = [
            (np.asarray(quad, np.float32) / scale + origin, str(text), float(score))
            for quad, text, score in (result or [])
        ]
        readings = []
        for quad, raw, score in _joined_pieces(pieces):
            text = normalise(raw)
            plate = search_plate(text)
            colour = plate_colour(image, quad) if plate is not None else None
            readings.append(PlateReading(text, score, quad, plate, colour))
        readings.sort(key=lambda r: (not r.valid, -r.confidence))
        return readings

    def _search_region(
        self, image: np.ndarray, box: np.ndarray | None
    ) -> tuple[np.ndarray | None, np.ndarray, float]:
        """The part of `image` to search, its top-left corner in `image`, and the scale it
        was resized by."""
        h, w = image.shape[:2]
        if box is None:
            x0, y0, x1, y1 = 0, 0, w, h
        else:
            bx0, by0, bx1, by1 = (float(v) for v in np.asarray(box, np.float32).reshape(4))
            top = by0 + self.search_from * (by1 - by0)
            x0, y0 = max(int(np.floor(bx0)), 0), max(int(np.floor(top)), 0)
            x1, y1 = min(int(np.ceil(bx1)), w), min(int(np.ceil(by1)), h)
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None, np.zeros(2, np.float32), 1.0
        region = image[y0:y1, x0:x1]
        scale = min(self.det_side / max(region.shape[:2]), self.max_upscale)
        if scale > 1.0:
            region = cv2.resize(region, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        else:
            scale = 1.0  # RapidOCR shrinks to det_side itself and maps boxes back
        return np.ascontiguousarray(region), np.array([x0, y0], np.float32), scale


def load_engine(det_side: int = 640, threads: int | None = None) -> Any:
    """A RapidOCR engine set up for plate crops, or `PlateEngineMissing`.

    RapidOCR's default enlarges every image until its *shortest* side is 736 px (built for
    document pages); a plate crop would grow ~10x and take seconds. Limiting the *longest*
    side keeps a vehicle crop at its size.
    """
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError as exc:
        raise PlateEngineMissing(
            "plate reading needs the OCR engine of the `plates` extra: "
            "pip install 'roadguard[plates]' (rapidocr-onnxruntime)"
        ) from exc
    return RapidOCR(
        det_limit_type="max",
        det_limit_side_len=det_side,
        intra_op_num_threads=-1 if threads is None else threads,
        print_verbose=False,
    )


# Pieces on one line are joined when their vertical extents overlap by this share.
_SAME_LINE = 0.5
# Pieces further apart than this many text heights are not one plate.
_MAX_GAP = 1.5


def _joined_pieces(
    pieces: list[tuple[np.ndarray, str, float]],
) -> list[tuple[np.ndarray, str, float]]:
    """Each piece, and each run of up to three neighbouring pieces on one line joined left to
    right (confidence: the weakest piece's)."""
    out = list(pieces)
    ordered = sorted(pieces, key=lambda p: float(p[0][:, 0].min()))
    for i, first in enumerate(ordered):
        run = [first]
        for nxt in ordered[i + 1 :]:
            if len(run) == 3:
                break
            if not _neighbours(run[-1][0], nxt[0]):
                continue
            run.append(nxt)
            quad = _union_quad([p[0] for p in run])
            out.append((quad, "".join(p[1] for p in run), min(p[2] for p in run)))
    return out


def _neighbours(left: np.ndarray, right: np.ndarray) -> bool:
    ly0, ly1 = left[:, 1].min(), left[:, 1].max()
    ry0, ry1 = right[:, 1].min(), right[:, 1].max()
    overlap = min(ly1, ry1) - max(ly0, ry0)
    height = min(ly1 - ly0, ry1 - ry0)
    gap = right[:, 0].min() - left[:, 0].max()
    return height > 0 and overlap >= _SAME_LINE * height and -height < gap <= _MAX_GAP * height


def _union_quad(quads: list[np.ndarray]) -> np.ndarray:
    points = np.concatenate(quads)
    (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
