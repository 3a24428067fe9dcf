"""Real frames to calibrate an 8-bit detector on and to check it against the float one: the
campus footage (`vtest.avi`), every scripted scene (built from real vehicle photos) and the
real photos. Calibration and check frames are different frames of the same material."""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from cameras.photos import photo_path
from cameras.scene import load_scene, scene_names


def footage_frames(every: int, offset: int) -> Iterator[tuple[str, np.ndarray]]:
    """Every `every`-th frame (from `offset`) of the footage and the scenes, then the photos."""
    capture = cv2.VideoCapture(str(photo_path("campus_video")))
    index = 0
    while True:
        ok, image = capture.read()
        if not ok:
            break
        if index % every == offset:
            yield f"vtest.avi#{index}", image
        index += 1
    capture.release()
    for name in scene_names():
        for frame in load_scene(name):
            if frame.index % every == offset:
                yield f"scene {name}#{frame.index}", frame.image
    for key in ("bus", "car_rear"):
        yield key, cv2.imread(str(photo_path(key)))


def calibration_frames() -> Iterator[np.ndarray]:
    return (image for _, image in footage_frames(every=40, offset=0))


def check_frames() -> Iterator[tuple[str, np.ndarray]]:
    return footage_frames(every=10, offset=5)
