"""`roadguard edge quantise` end to end: calibrated on real frames, checked on others, the
8-bit model is written only when it keeps every vehicle the float model finds."""

from __future__ import annotations

import cv2
import pytest

import models.quantise
from cameras.photos import photo_path
from edge.calibration import calibration_frames, footage_frames
from models.detector import Detector
from models.quantise import QuantisationRefused, quantise

pytestmark = [pytest.mark.needs_model, pytest.mark.needs_photos]


def test_the_8_bit_model_keeps_every_vehicle_and_is_refused_when_it_would_not(
    detector, tmp_path, monkeypatch
):
    out = tmp_path / "nanodet-int8.onnx"
    check = quantise(
        detector.model_path, out, calibration_frames(), footage_frames(every=40, offset=20)
    )
    assert check.kept_all and check.vehicles > 50
    bus = cv2.imread(str(photo_path("bus")))
    assert "bus" in Detector(out).detect(bus).class_names()

    # a model that would lose a vehicle is never written
    monkeypatch.setattr(models.quantise, "missed_vehicles", lambda ref, cand: ref.xyxy[:1])
    refused = tmp_path / "refused.onnx"
    with pytest.raises(QuantisationRefused, match="missed .* vehicles .* not written"):
        quantise(detector.model_path, refused, calibration_frames(), [("bus.jpg", bus)])
    assert not refused.exists()
