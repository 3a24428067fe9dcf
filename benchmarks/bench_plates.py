"""What one plate read costs, on a vehicle crop versus the whole frame.

A rendered blue plate (鄂A3C952, 42 px tall) on a car in a 1280x720 road scene:
- `vehicle-box`: `OcrPlateReader.read_plate` on the car's box (lower 60 % searched), which
  is what the edge runs for each vehicle in an episode;
- `whole-frame`: the same reader given no box, so the text detector sees the whole frame
  (shrunk to `det_side` 640 px, so the plate is read at half resolution);
- `whole-frame-full-res`: RapidOCR's own defaults on the whole frame (no shrinking: its
  detector enlarges until the shortest side is 736 px), the cost of not cropping at all.

Each checks its answer, so a fast wrong read cannot pass for a fast read. Run with
`make bench`.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.plates import OcrPlateReader
from models.plates.testing import car_scene, render_plate

# One thread: the plate reader runs beside the detector on the edge box and must not take
# every core (on this shared 2-core machine one thread was also faster than two).
THREADS = 1
PLATE = "鄂A3C952"


@pytest.fixture(scope="module")
def scene() -> tuple[np.ndarray, np.ndarray]:
    return car_scene(render_plate(PLATE, "blue", height=42))


@pytest.fixture(scope="module")
def reader() -> OcrPlateReader:
    return OcrPlateReader(threads=THREADS)


def test_vehicle_box(benchmark, reader: OcrPlateReader, scene) -> None:
    image, box = scene
    reading = benchmark(reader.read_plate, image, box)
    assert reading is not None and reading.plate.text == PLATE


def test_whole_frame(benchmark, reader: OcrPlateReader, scene) -> None:
    image, _ = scene
    reading = benchmark(reader.read_plate, image, None)
    assert reading is not None and reading.plate.text == PLATE


def test_whole_frame_full_res(benchmark, scene) -> None:
    from rapidocr_onnxruntime import RapidOCR

    engine = RapidOCR(intra_op_num_threads=THREADS)
    image, _ = scene
    result, _ = benchmark.pedantic(engine, args=(image,), kwargs={"use_cls": False}, rounds=3)
    assert any(PLATE in text.replace("·", "") for _, text, _ in (result or []))
