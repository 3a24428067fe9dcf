"""The road the scene's vehicles drive on, drawn with OpenCV.

Only surfaces and paint: a wall, a paved footway, a kerb, asphalt with some texture, a
double yellow line, a hatched no-parking box and a dashed lane line. Nothing in it may look
like a vehicle to the detector (a test checks that the empty road gives no detection), so
every vehicle a detector finds in a scene is one the script put there.
"""

from __future__ import annotations

import cv2
import numpy as np

from cameras.scene_script import RoadLayout

ASPHALT = (88, 89, 92)
PAVEMENT = (172, 176, 180)
KERB = (196, 198, 200)
WALL = (150, 172, 190)
YELLOW = (40, 190, 232)
WHITE = (228, 230, 232)
WORN_PAINT = 0.5  # share of the paint colour over the asphalt


def draw_road(size: tuple[int, int], layout: RoadLayout, seed: int = 0) -> np.ndarray:
    """The background for a scene of `size` (width, height), the same for the same seed."""
    width, height = size
    rng = np.random.default_rng(seed)
    image = np.zeros((height, width, 3), np.float32)
    road_top = min(layout.kerb_y + 12, height)

    bands = (
        (0, layout.wall_bottom, WALL, 5.0),
        (layout.wall_bottom, layout.kerb_y, PAVEMENT, 4.0),
        (layout.kerb_y, road_top, KERB, 3.0),
        (road_top, height, ASPHALT, 7.0),
    )
    for top, bottom, colour, grain in bands:
        top, bottom = max(0, top), min(height, bottom)
        if top < bottom:
            image[top:bottom] = colour
            image[top:bottom] += _texture(rng, bottom - top, width, grain)

    _draw_wall(image, layout.wall_bottom)
    _draw_paving(image, layout.wall_bottom, layout.kerb_y)
    if layout.kerb_y < height:
        cv2.line(image, (0, layout.kerb_y), (width, layout.kerb_y), (215, 216, 218), 2)
        cv2.line(image, (0, road_top - 1), (width, road_top - 1), (120, 122, 125), 2)
    for offset in (8, 16):  # "no waiting at any time" along the kerb
        y = road_top + offset
        cv2.line(image, (0, y), (width, y), YELLOW, 3, cv2.LINE_AA)
    if layout.no_parking_box is not None:
        _draw_no_parking_box(image, layout.no_parking_box, layout.no_parking_text)
    if layout.lane_line_y is not None:
        for x in range(20, width, 110):
            cv2.line(image, (x, layout.lane_line_y), (x + 60, layout.lane_line_y), WHITE, 5)
    return np.clip(image, 0, 255).astype(np.uint8)


def _texture(rng: np.random.Generator, height: int, width: int, grain: float) -> np.ndarray:
    """Fine grain plus soft blotches (wear, patches), as real surfaces have."""
    fine = rng.normal(0.0, grain, (height, width, 1)).astype(np.float32)
    coarse = rng.normal(0.0, grain * 1.2, (max(2, height // 24), max(2, width // 24)))
    coarse = cv2.resize(coarse.astype(np.float32), (width, height), interpolation=cv2.INTER_CUBIC)
    return fine + coarse[..., None]


def _draw_wall(image: np.ndarray, bottom: int) -> None:
    width = image.shape[1]
    for y in range(28, bottom - 12, 28):  # stone courses
        cv2.line(image, (0, y), (width, y), (128, 150, 168), 1)
    if bottom > 14:
        image[bottom - 14 : bottom] *= 0.72  # a darker plinth


def _draw_paving(image: np.ndarray, top: int, bottom: int) -> None:
    width = image.shape[1]
    rows = list(range(top, bottom, 48))
    for n, y in enumerate(rows):
        cv2.line(image, (0, y), (width, y), (150, 154, 158), 1)
        row_bottom = min(bottom, y + 48)
        for x in range(-45 * (n % 2), width, 90):
            cv2.line(image, (x, y), (x, row_bottom), (150, 154, 158), 1)


def _draw_no_parking_box(image: np.ndarray, box: tuple[int, int, int, int], text: str) -> None:
    """Outline, hatching and words in worn paint: at full strength the yellow lines around a
    parked car's wheels cost NanoDet ~0.1 of its score (measured), and real paint fades."""
    x0, y0, x1, y1 = box
    paint = np.zeros(image.shape[:2], np.uint8)
    hatch = np.zeros_like(paint)
    for x in range(x0 - (y1 - y0), x1, 46):
        cv2.line(hatch, (x, y1), (x + (y1 - y0), y0), 255, 3, cv2.LINE_AA)
    cv2.rectangle(paint, (x0, y0), (x1, y1), 255, -1)
    paint = np.minimum(paint, hatch)
    cv2.rectangle(paint, (x0, y0), (x1, y1), 255, 3, cv2.LINE_AA)
    if text:
        font, scale, thick = cv2.FONT_HERSHEY_DUPLEX, 1.0, 2
        (tw, th), _ = cv2.getTextSize(text, font, scale, thick)
        ox, oy = (x0 + x1 - tw) // 2, (y0 + y1 + th) // 2
        paint[oy - th - 8 : oy + 8, ox - 8 : ox + tw + 8] = 0  # a clear patch for the words
        cv2.putText(paint, text, (ox, oy), font, scale, 255, thick, cv2.LINE_AA)
    weight = (paint.astype(np.float32) / 255 * WORN_PAINT)[..., None]
    image += (np.array(YELLOW, np.float32) - image) * weight
