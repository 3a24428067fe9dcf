"""A report's photo: checked by content, not by name, and its GPS position read from EXIF.

A phone names every upload `image.jpg` and a client can claim any content type, so the only
trustworthy check is decoding: Pillow must recognise an allowed format and decode the whole
image (a truncated upload fails here, not on the officer's screen). The pixel count is read
from the header and bounded before decoding, so a small file cannot expand into gigabytes (a
140 kB PNG can hold 49 megapixels, 300 MB decoded), and at most `MAX_DECODES` photos are
decoded at once per process, on their own threads, so concurrent uploads cannot add those up.
"""

from __future__ import annotations

import io
import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from PIL import ExifTags, Image, UnidentifiedImageError

from central.text import N_, Said

MIME_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
# Decodes run on these threads only, at most MAX_DECODES at once: a decode is CPU-bound, so
# more at once gains no speed, only memory; and the memory a decode leaves in its thread's
# malloc arena is reused by the next decode there instead of piling up in every request
# thread's arena (eight concurrent 24 MP decodes on request threads kept 335 MB).
MAX_DECODES = 2
_decoder = ThreadPoolExecutor(MAX_DECODES, thread_name_prefix="photo-decode")


class MediaRejected(ValueError):
    """A photo the centre will not store; `status` is the HTTP status to answer with."""

    def __init__(self, template: str, status: int, **values: Any) -> None:
        self.said = Said(template, values)
        super().__init__(str(self.said))
        self.status = status


@dataclass(frozen=True)
class Photo:
    data: bytes
    format: str
    content_type: str
    width: int
    height: int
    gps: tuple[float, float] | None  # (lat, long) from EXIF, if the camera recorded it


def _decode(data: bytes, max_pixels: int, formats: list[str]) -> tuple[str, Image.Exif, int, int]:
    """(format, EXIF, width, height) of a photo Pillow decodes whole; run on `_decoder`."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data), formats=formats) as image:
            if image.width * image.height > max_pixels:  # from the header: nothing decoded
                raise MediaRejected(N_("the photo has too many pixels"), 413)
            image.load()  # decode everything: truncated or corrupt files fail here
            return image.format or "", image.getexif(), image.width, image.height


def check_photo(
    data: bytes, *, max_bytes: int, max_pixels: int, formats: list[str] | tuple[str, ...]
) -> Photo:
    """The photo, if it is an allowed image within the limits; else MediaRejected."""
    if not data:
        raise MediaRejected(N_("the photo is empty"), 400)
    if len(data) > max_bytes:  # the upload was read to one byte over the limit, no further
        raise MediaRejected(
            N_("the photo is over the %(limit).1f MB limit"), 413, limit=max_bytes / 1e6
        )
    try:
        fmt, exif, width, height = _decoder.submit(
            _decode, data, max_pixels, list(formats)
        ).result()
    except MediaRejected:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        allowed = ", ".join(formats)
        raise MediaRejected(
            N_("the upload is not a photo (%(allowed)s)"), 415, allowed=allowed
        ) from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaRejected(
            N_("the photo cannot be decoded: %(error)s"), 415, error=str(exc)
        ) from None
    return Photo(
        data,
        fmt,
        MIME_TYPES.get(fmt, "application/octet-stream"),
        width,
        height,
        exif_position(exif),
    )


def _degrees(value: Any) -> float:
    d, m, s = (float(v) for v in value)
    return d + m / 60 + s / 3600


def exif_position(exif: Image.Exif) -> tuple[float, float] | None:
    """(lat, long) in decimal degrees from the GPS IFD, or None when absent or nonsense."""
    try:
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (KeyError, ValueError, TypeError, OSError):
        return None
    tags = ExifTags.GPS
    try:
        lat = _degrees(gps[tags.GPSLatitude])
        lon = _degrees(gps[tags.GPSLongitude])
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if str(gps.get(tags.GPSLatitudeRef, "N")).upper().startswith("S"):
        lat = -lat
    if str(gps.get(tags.GPSLongitudeRef, "E")).upper().startswith("W"):
        lon = -lon
    if not (math.isfinite(lat) and math.isfinite(lon)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat == 0 and lon == 0):
        return None  # (0, 0) is what some phones write when they had no fix
    return round(lat, 7), round(lon, 7)


def jpeg_with_gps(
    lat: float | None, lon: float | None, size: tuple[int, int] = (320, 240), quality: int = 85
) -> bytes:
    """A small JPEG, with EXIF GPS when lat/lon are given: for tests and the demo, so they
    need no photo file on disk."""
    from PIL import ImageDraw

    image = Image.new("RGB", size, (70, 100, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, size[1] // 2, size[0] - 20, size[1] - 20), fill=(200, 180, 60))
    draw.text((24, 20), "RoadGuard test photo", fill=(255, 255, 255))
    exif = Image.Exif()
    if lat is not None and lon is not None:

        def dms(value: float) -> tuple[float, float, float]:
            value = abs(value)
            d = int(value)
            m = int((value - d) * 60)
            s = round((value - d - m / 60) * 3600, 4)
            return (float(d), float(m), s)

        exif[ExifTags.Base.GPSInfo] = {
            ExifTags.GPS.GPSLatitudeRef: "N" if lat >= 0 else "S",
            ExifTags.GPS.GPSLatitude: dms(lat),
            ExifTags.GPS.GPSLongitudeRef: "E" if lon >= 0 else "W",
            ExifTags.GPS.GPSLongitude: dms(lon),
        }
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality, exif=exif)
    return out.getvalue()
