"""Write a scene's frames to disk, to look at them (`roadguard scene render`).

With `overlay`, the zones and each actor's ground-truth box are drawn in, so a person can
check at a glance that the script does what its comments say.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from cameras.scene import SceneSource


def overlaid(scene: SceneSource, index: int, image: np.ndarray) -> np.ndarray:
    """`image` with the zones (yellow outline) and ground truth (green moving, red still)."""
    image = image.copy()
    for zone_id, polygon in scene.zones.items():
        points = np.array(polygon, np.int32)
        cv2.polylines(image, [points], True, (0, 220, 255), 2)
        cv2.putText(image, zone_id, tuple(points[0] + (4, -6)), 0, 0.5, (0, 220, 255), 1)
    for truth in scene.truth(index).values():
        x0, y0, x1, y1 = truth.box
        colour = (60, 200, 60) if truth.moving else (40, 40, 230)
        cv2.rectangle(image, (x0, y0), (x1 - 1, y1 - 1), colour, 2)
        label = f"{truth.name} {truth.visible:.0%}"
        cv2.putText(image, label, (x0 + 4, y0 + 16), 0, 0.5, colour, 1, cv2.LINE_AA)
    cv2.putText(image, f"t={scene.timestamp(index):6.1f}s", (10, 24), 0, 0.7, (255, 255, 255), 2)
    return image


def write_frames(
    scene: SceneSource, out: Path, *, frames: int | None = None, overlay: bool = False
) -> int:
    """Frames 0..N-1 as `out/NAME_00000.png`, or as an MJPG video when `out` ends in .avi."""
    count = scene.frame_count if frames is None else max(0, min(frames, scene.frame_count))
    writer = None
    if out.suffix.lower() == ".avi":
        out.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), scene.fps, scene.size)
        if not writer.isOpened():
            raise OSError(f"cannot write video {out}")
    else:
        out.mkdir(parents=True, exist_ok=True)
    try:
        for index in range(count):
            image = scene.render(index)
            if overlay:
                image = overlaid(scene, index, image)
            if writer is not None:
                writer.write(image)
            else:
                cv2.imwrite(str(out / f"{scene.name}_{index:05d}.png"), image)
    finally:
        if writer is not None:
            writer.release()
    return count
