"""The scenes are only worth testing on if the real detector sees their vehicles: every
parked and moving vehicle is found in the large majority of frames, and the empty road
gives no vehicle at all (so every detection in a scene is a vehicle the script put there)."""

from __future__ import annotations

import numpy as np
import pytest

from cameras.scene import load_scene

SCENES = ("demo", "jam", "bus_occlusion", "delivery_stop", "parked_kerb", "red_light", "jam_clears")
MIN_SCORE = 0.35
EVERY = 4  # every 4th frame (0.8 s at 5 fps) keeps the test to seconds


def vehicle_boxes(detector, image: np.ndarray, min_score: float) -> np.ndarray:
    from models.coco import COCO_CLASSES, VEHICLE_CLASSES

    found = detector.detect(image)
    keep = [
        i
        for i, (_, score, class_id, _) in enumerate(found)
        if score >= min_score and COCO_CLASSES[class_id] in VEHICLE_CLASSES
    ]
    return found.xyxy[keep].reshape(-1, 4)


def iou(box: tuple[int, int, int, int], boxes: np.ndarray) -> np.ndarray:
    x0 = np.maximum(box[0], boxes[:, 0])
    y0 = np.maximum(box[1], boxes[:, 1])
    x1 = np.minimum(box[2], boxes[:, 2])
    y1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x1 - x0, 0, None) * np.clip(y1 - y0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area + areas - inter)


@pytest.mark.needs_model
@pytest.mark.parametrize("name", SCENES)
def test_the_empty_road_has_no_vehicle(detector, name):
    scene = load_scene(name)
    assert len(vehicle_boxes(detector, scene.background, min_score=0.25)) == 0


@pytest.mark.needs_model
@pytest.mark.parametrize("name", SCENES)
def test_scene_vehicles_are_detected(detector, name):
    scene = load_scene(name)
    seen = {"parked": [0, 0], "moving": [0, 0]}
    phantoms = 0
    for index in range(0, scene.frame_count, EVERY):
        boxes = vehicle_boxes(detector, scene.render(index), MIN_SCORE)
        truth = scene.truth(index)
        matched = np.zeros(len(boxes), bool)
        for actor in truth.values():
            overlaps = iou(actor.box, boxes) if len(boxes) else np.zeros(0)
            matched |= overlaps >= 0.3
            if actor.visible < 0.9:  # half out of the picture or behind another vehicle
                continue
            tally = seen["moving" if actor.moving else "parked"]
            tally[0] += bool(len(overlaps) and overlaps.max() >= 0.5)
            tally[1] += 1
        phantoms += int((~matched).any())
    rates = {kind: hit / total for kind, (hit, total) in seen.items() if total}
    assert rates.get("parked", 1.0) >= 0.9, (name, seen)
    assert rates.get("moving", 1.0) >= 0.85, (name, seen)
    assert phantoms <= 0.03 * (scene.frame_count / EVERY), (name, phantoms)
