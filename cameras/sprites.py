"""Vehicles cut from real photos, ready to paste onto the road.

The detector must see real vehicles, not drawings: a rectangle painted by OpenCV is not a car
to a COCO model (and a test passing on one proves nothing). So each sprite is a crop of a
real photo (`cameras.photos`), with a hand-traced outline so the photo's own street does not
travel along with the vehicle, scaled to the size the script asks for. Cars can be mirrored
and colour-washed, so a queue of five cars is not five identical copies.

The car photo (the rear of a sedan, motion-blurred) is sharpened and given dark tyres below
its bumper: at the widths the scenes use, NanoDet scores it car/truck 0.45-0.6 that way, and
much lower (often not at all) without.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from cameras.photos import photo_path


@dataclass(frozen=True)
class SpriteCut:
    photo: str  # key in cameras.photos.PHOTOS
    crop: tuple[int, int, int, int]  # x0, y0, x1, y1 in the photo
    outline: tuple[tuple[int, int], ...]  # polygon in the photo's pixels
    height_scale: float = 1.0  # drawn height / the crop's height at the same scale
    sharpen: float = 0.0  # unsharp-mask amount (0: none)
    tyres: tuple[tuple[int, int, int, int], ...] = ()  # dark boxes drawn in, photo pixels


CUTS: dict[str, SpriteCut] = {
    # licenseplate_motion.jpg (600x482): the sedan's rear fills the photo; its bumper ends at
    # y~397, below is road. Tyres are drawn where a rear view shows them.
    "car": SpriteCut(
        photo="car_rear",
        crop=(0, 25, 600, 470),
        outline=(
            (100, 30),
            (500, 30),
            (545, 150),
            (590, 175),
            (598, 300),
            (598, 400),
            (570, 400),
            (570, 470),
            (470, 470),
            (470, 400),
            (130, 400),
            (130, 470),
            (30, 470),
            (30, 400),
            (2, 400),
            (2, 300),
            (12, 175),
            (55, 150),
        ),
        height_scale=1 / 1.2,
        sharpen=2.0,
        tyres=((30, 385, 130, 470), (470, 385, 570, 470)),
    ),
    # bus.jpg (810x1080): the minibus's box is ~[19, 213, 789, 750]; the crop drops the
    # building above its roof. Two passers-by stand in front of it in the photo and stay.
    "bus": SpriteCut(
        photo="bus",
        crop=(19, 225, 795, 745),
        outline=(
            (19, 330),
            (45, 262),
            (160, 236),
            (700, 236),
            (775, 258),
            (795, 300),
            (795, 745),
            (19, 745),
        ),
    ),
}

# Colour washes (B, G, R multipliers) applied to the grey paintwork only: saturated pixels
# (tail lights, the bus's blue) keep their colour.
TINTS: dict[str, tuple[float, float, float]] = {
    "none": (1.0, 1.0, 1.0),
    "blue": (1.0, 0.6, 0.35),
    "dark": (0.4, 0.4, 0.4),
    "green": (0.55, 0.9, 0.55),
    "white": (1.15, 1.15, 1.15),
    "yellow": (0.4, 0.95, 1.05),
    "teal": (0.95, 0.85, 0.4),
}


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray  # (h, w, 3) uint8 BGR
    alpha: np.ndarray  # (h, w, 1) float32 in 0..1

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.image.shape[1], self.image.shape[0]


def sprite_height(kind: str, width: int) -> int:
    cut = CUTS[kind]
    x0, y0, x1, y1 = cut.crop
    return max(1, round(width * (y1 - y0) / (x1 - x0) * cut.height_scale))


@lru_cache(maxsize=64)
def make_sprite(kind: str, width: int, tint: str = "none", flip: bool = False) -> Sprite:
    """The sprite `kind` drawn `width` px wide (cached: scenes reuse a few sizes)."""
    cut = CUTS[kind]
    image, alpha = _cut_out(cut)
    image = _tinted(image, TINTS[tint])
    if flip:
        image, alpha = image[:, ::-1], alpha[:, ::-1]
    size = (width, sprite_height(kind, width))
    image = cv2.resize(np.ascontiguousarray(image), size, interpolation=cv2.INTER_AREA)
    alpha = cv2.resize(np.ascontiguousarray(alpha), size, interpolation=cv2.INTER_AREA)
    # Snap near-opaque to opaque: a vehicle in front must hide what is behind it exactly.
    alpha = np.where(alpha > 0.99, 1.0, np.where(alpha < 0.01, 0.0, alpha))
    return Sprite(image, alpha[..., None].astype(np.float32))


@lru_cache(maxsize=8)
def _cut_out(cut: SpriteCut) -> tuple[np.ndarray, np.ndarray]:
    photo = cv2.imread(str(photo_path(cut.photo)), cv2.IMREAD_COLOR)
    if photo is None:
        raise OSError(f"cannot read photo {photo_path(cut.photo)}")
    if cut.sharpen:
        blurred = cv2.GaussianBlur(photo, (0, 0), 5)
        photo = cv2.addWeighted(photo, 1 + cut.sharpen, blurred, -cut.sharpen, 0)
    for x0, y0, x1, y1 in cut.tyres:
        cv2.rectangle(photo, (x0, y0), (x1 - 1, y1 - 1), (24, 24, 26), -1)
    mask = np.zeros(photo.shape[:2], np.float32)
    cv2.fillPoly(mask, [np.array(cut.outline, np.int32)], 1.0)
    mask = cv2.GaussianBlur(mask, (0, 0), 1.5)  # soft edge: no cut-out halo when scaled
    x0, y0, x1, y1 = cut.crop
    return photo[y0:y1, x0:x1], mask[y0:y1, x0:x1]


def _tinted(image: np.ndarray, multipliers: tuple[float, float, float]) -> np.ndarray:
    if multipliers == (1.0, 1.0, 1.0):
        return image
    saturation = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)[..., 1:2].astype(np.float32) / 255
    grey_weight = np.clip(1.0 - 2.0 * saturation, 0.0, 1.0)
    factor = 1.0 + grey_weight * (np.array(multipliers, np.float32) - 1.0)
    return np.clip(image.astype(np.float32) * factor, 0, 255).astype(np.uint8)


def paste(frame: np.ndarray, sprite: Sprite, x0: int, y0: int) -> None:
    """Alpha-blend `sprite` onto `frame` (in place) with its top-left at (x0, y0), clipped."""
    h, w = frame.shape[:2]
    sw, sh = sprite.size
    fx0, fy0, fx1, fy1 = max(x0, 0), max(y0, 0), min(x0 + sw, w), min(y0 + sh, h)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    src = (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0))
    alpha = sprite.alpha[src]
    region = frame[fy0:fy1, fx0:fx1].astype(np.float32)
    blended = region + (sprite.image[src].astype(np.float32) - region) * alpha
    frame[fy0:fy1, fx0:fx1] = np.rint(blended).astype(np.uint8)


def cast_shadow(frame: np.ndarray, x0: int, x1: int, ground_y: int) -> None:
    """Darken a soft ellipse of road under a vehicle spanning x0..x1 with wheels at ground_y:
    vehicles that cast no shadow look pasted on, to people and to detectors."""
    h, w = frame.shape[:2]
    half_w, half_h = (x1 - x0) * 0.55, max(4.0, (x1 - x0) * 0.04)
    cx = (x0 + x1) / 2
    bx0, bx1 = max(0, int(cx - half_w) - 4), min(w, int(cx + half_w) + 5)
    by0, by1 = max(0, int(ground_y - 2 * half_h)), min(h, int(ground_y + half_h) + 3)
    if bx0 >= bx1 or by0 >= by1:
        return
    shade = np.zeros((by1 - by0, bx1 - bx0), np.float32)
    centre = (round(cx - bx0), round(ground_y - half_h * 0.4 - by0))
    cv2.ellipse(shade, centre, (round(half_w), round(half_h)), 0, 0, 360, 0.55, -1)
    shade = cv2.GaussianBlur(shade, (0, 0), max(1.0, half_h / 2))[..., None]
    region = frame[by0:by1, bx0:bx1].astype(np.float32)
    frame[by0:by1, bx0:bx1] = (region * (1.0 - shade)).astype(np.uint8)
