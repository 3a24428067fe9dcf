"""The 8-bit detector: kept only when it finds every vehicle the float model finds."""

from __future__ import annotations

import numpy as np
import pytest

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


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_the_8_bit_model_keeps_every_vehicle_and_refuses_when_it_would_not(
    detector, tmp_path, monkeypatch
):
    import models.quantise
    from edge.calibration import calibration_frames, footage_frames
    from models.detector import Detector
    from models.quantise import QuantisationRefused, quantise

    out = tmp_path / "nanodet-int8.onnx"
    check = quantise(
        detector.model_path, out, calibration_frames(), footage_frames(every=40, offset=20)
    )
    assert check.kept_all and check.vehicles > 50
    import cv2

    from cameras.photos import photo_path

    bus = Detector(out).detect(cv2.imread(str(photo_path("bus"))))
    assert "bus" in bus.class_names()

    # a model that would lose one is never written
    monkeypatch.setattr(models.quantise, "missed_vehicles", lambda ref, cand: ref.xyxy[:1])
    refused = tmp_path / "refused.onnx"
    with pytest.raises(QuantisationRefused, match="missed .* vehicles .* not written"):
        quantise(
            detector.model_path,
            refused,
            calibration_frames(),
            [("bus", cv2.imread(str(photo_path("bus"))))],
        )
    assert not refused.exists()
