"""The background colour of a plate crop: the one thing the text cannot say.

An ordinary plate is blue on a small vehicle and yellow on a large one, with the same
characters; new-energy plates are green. The plate's background covers most of its box
(the characters are thin strokes). The hue is taken over the saturated pixels only, since a
new-energy plate fades from white at the top to green at the bottom and white characters on
blue must not count.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["plate_colour"]

# OpenCV hue runs 0-180; these bands hold the three painted plate colours.
_HUES = (("yellow", 12, 35), ("green", 35, 90), ("blue", 90, 135))
_MIN_SATURATION = 70  # below: white, black or grey (police, embassy, or too dark to say)
_MIN_COLOURED = 0.3  # share of saturated pixels for a painted plate


def plate_colour(image: np.ndarray, quad: np.ndarray | None = None) -> str | None:
    """ "blue", "yellow", "green", "white" or "black" for the plate in `quad` (4x2 pixel
    corners in `image`, the whole image when None); None when the area is empty or grey."""
    if quad is not None:
        x0, y0 = np.floor(quad.min(axis=0)).astype(int)
        x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
        h, w = image.shape[:2]
        image = image[max(y0, 0) : min(y1, h), max(x0, 0) : min(x1, w)]
    if image.size == 0:
        return None
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV).reshape(-1, 3)
    coloured = hsv[:, 1] >= _MIN_SATURATION
    if coloured.mean() < _MIN_COLOURED:
        value = float(np.median(hsv[:, 2]))
        if value > 170:
            return "white"
        return "black" if value < 60 else None
    hue = float(np.median(hsv[coloured, 0]))
    for name, low, high in _HUES:
        if low <= hue < high:
            return name
    return None
