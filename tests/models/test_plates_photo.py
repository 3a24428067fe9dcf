"""The plate reader on a real photo: Debian opencv-doc's `licenseplate_motion.jpg`.

It is a sedan's rear seen through heavy motion blur (OpenCV's deblurring sample), with a
non-Chinese plate. What is honest to expect, and what these tests pin down as measured:
- the vehicle detector finds the car and the reader, on that box, returns no plate (None):
  RapidOCR at its normal thresholds finds no text at all on this photo;
- with its thresholds lowered to accept anything, the text detector marks a region spanning
  the plate (the whole blurred trunk lid), but the recogniser makes nothing of it (empty
  strings, a one-character guess) and the format validator refuses all of it, so the
  cooldown never keys on it.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from cameras.frames import Frame
from cameras.photos import photo_path
from models.plates import OcrPlateReader, PlateEngineMissing, search_plate
from models.plates.reader import load_engine

pytestmark = [pytest.mark.needs_model, pytest.mark.needs_photos]

# The plate in licenseplate_motion.jpg (600x482), xyxy, measured by eye on the photo.
PLATE_REGION = (220, 215, 365, 300)


@pytest.fixture(scope="module")
def car_rear() -> np.ndarray:
    image = cv2.imread(str(photo_path("car_rear")))
    assert image is not None and image.shape[:2] == (482, 600)
    return image


@pytest.fixture(scope="module")
def engine():
    try:
        return load_engine()
    except PlateEngineMissing as exc:
        pytest.fail(str(exc))


def _inside(point: np.ndarray, region: tuple[int, int, int, int]) -> bool:
    x0, y0, x1, y1 = region
    return x0 <= point[0] <= x1 and y0 <= point[1] <= y1


def test_detected_car_reads_no_plate(car_rear: np.ndarray, detector, engine):
    found = detector.detect(car_rear)
    cars = found[np.isin(found.class_names(), ["car", "truck"])]
    assert len(cars) >= 1
    box = cars.xyxy[np.argmax(cars.confidence)]
    # the car box holds the plate
    assert _inside(np.array([(PLATE_REGION[0] + PLATE_REGION[2]) / 2, PLATE_REGION[3]]), box)
    reader = OcrPlateReader(engine=engine)
    assert reader.readings(car_rear, box) == []  # measured: no text at normal thresholds
    assert reader.read(Frame("photo", 0, 0.0, car_rear), box) is None


def test_lowered_thresholds_read_only_refused_guesses(car_rear: np.ndarray):
    """Measured with rapidocr-onnxruntime 1.4.4: three regions, the trunk lid across the
    plate read as "" (score 0), the rear window as "福" (0.08) and the left tail light as "9"
    (0.05); none of it is a plate, and the validator says so."""
    from rapidocr_onnxruntime import RapidOCR

    permissive = RapidOCR(
        det_limit_type="max", det_limit_side_len=640, det_box_thresh=0.2, text_score=0.0
    )
    result, _ = permissive(car_rear, use_cls=False)
    assert result, "the text detector found no region at all"
    texts = [text for _, text, _ in result]
    quads = [np.asarray(quad, np.float32) for quad, _, _ in result]
    x0, y0, x1, y1 = PLATE_REGION
    assert any(  # one region spans the plate (the blurred trunk lid around it)
        q[:, 0].min() <= x0 and q[:, 0].max() >= x1 and q[:, 1].min() <= y0 and q[:, 1].max() >= y1
        for q in quads
    ), quads
    assert all(search_plate(text) is None for text in texts), texts
