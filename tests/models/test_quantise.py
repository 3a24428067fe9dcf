"""The 8-bit detector: kept only when it finds every vehicle the float model finds."""

from __future__ import annotations

import numpy as np

from models.coco import CLASS_ID
from models.detections import Detections
from models.quantise import missed_vehicles

CAR, PERSON, BUS = CLASS_ID["car"], CLASS_ID["person"], CLASS_ID["bus"]


def found(*boxes: tuple[list[float], int]) -> Detections:
    if not boxes:
        return Detections.empty()
    xyxy, classes = zip(*boxes, strict=True)
    return Detections(np.array(xyxy, np.float32), np.full(len(xyxy), 0.5), np.array(classes))


def test_a_vehicle_called_a_person_or_boxed_elsewhere_is_missed():
    reference = found(
        ([0, 0, 100, 100], CAR), ([200, 0, 300, 100], BUS), ([0, 200, 50, 300], PERSON)
    )
    candidate = found(
        ([5, 5, 100, 105], CAR),  # the car, a few pixels off: found
        ([200, 0, 300, 100], PERSON),  # the bus, called a person: missed
        ([400, 400, 450, 450], CAR),  # an extra car the float model did not see: no matter
    )
    assert missed_vehicles(reference, candidate).tolist() == [[200, 0, 300, 100]]
    assert len(missed_vehicles(reference, found())) == 2  # people never count
    assert len(missed_vehicles(found(([0, 200, 50, 300], PERSON)), found())) == 0
