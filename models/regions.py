"""Crops of a frame for the detector: tiles, and zone regions fitted to the model's input.

NanoDet at 416×416 sees a 1920-pixel-wide frame at about a fifth of its size, so a car 100
pixels wide far down the street shrinks to ~20 pixels and is missed. Running the model on a
crop (a zone's surroundings, or tiles) gives it those pixels back.
"""

from __future__ import annotations

import math

Region = tuple[int, int, int, int]  # x0, y0, x1, y1 in frame pixels

# Upscaling a crop more than this only magnifies blur; tiny regions are grown instead.
MAX_UPSCALE = 2.0


def tiles(image_shape: tuple[int, ...], tile: int, overlap: float = 0.2) -> list[Region]:
    """Square `tile`-pixel regions covering an image of numpy shape (h, w[, c]).

    Neighbours overlap by `overlap` (a fraction of the tile, 0 ≤ overlap < 1) so that a vehicle
    cut by one tile's edge lies whole in the next; the last row and column are flush with the
    image edge. An image side shorter than `tile` gets a single tile of that side's length.
    """
    if tile <= 0 or not 0 <= overlap < 1:
        raise ValueError(f"need tile > 0 and 0 <= overlap < 1, got {tile=}, {overlap=}")
    height, width = image_shape[:2]
    xs = _starts(width, tile, overlap)
    ys = _starts(height, tile, overlap)
    return [(x, y, min(x + tile, width), min(y + tile, height)) for y in ys for x in xs]


def _starts(length: int, tile: int, overlap: float) -> list[int]:
    if length <= tile:
        return [0]
    step = max(1, int(tile * (1 - overlap)))
    count = math.ceil((length - tile) / step) + 1
    # Spread the tiles evenly so the last one ends exactly at the edge.
    return [round(i * (length - tile) / (count - 1)) for i in range(count)]


def clamp_region(region: Region, width: int, height: int) -> Region | None:
    """The region clamped to the frame, or None when nothing of it is inside."""
    x0, y0, x1, y1 = (int(round(v)) for v in region)
    x0, x1 = max(0, min(x0, width)), max(0, min(x1, width))
    y0, y1 = max(0, min(y0, height)), max(0, min(y1, height))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    return x0, y0, x1, y1


def fit_region(region: Region, width: int, height: int, input_size: tuple[int, int]) -> Region:
    """Grow a clamped region to the model's aspect ratio and to a minimum size, with real image
    around it rather than grey bars, staying inside the frame.

    The same region would otherwise be stretched (NanoDet) or letterboxed (YOLO): stretching
    distorts vehicles, letterboxing wastes the input on padding. Growing it costs nothing in
    resolution, since the scale is set by the longer side either way. The minimum size keeps
    the upscale at or below `MAX_UPSCALE`.
    """
    x0, y0, x1, y1 = region
    in_w, in_h = input_size
    w, h = x1 - x0, y1 - y0
    scale = min(in_w / w, in_h / h, MAX_UPSCALE)
    want_w, want_h = min(width, math.ceil(in_w / scale)), min(height, math.ceil(in_h / scale))
    x0, x1 = _grow(x0, x1, max(w, want_w), width)
    y0, y1 = _grow(y0, y1, max(h, want_h), height)
    return x0, y0, x1, y1


def _grow(lo: int, hi: int, size: int, limit: int) -> tuple[int, int]:
    """[lo, hi) widened to `size` about its centre, shifted back inside [0, limit)."""
    extra = size - (hi - lo)
    lo -= extra // 2
    hi = lo + size
    if lo < 0:
        lo, hi = 0, size
    if hi > limit:
        lo, hi = max(0, limit - size), limit
    return lo, hi
