"""Decoders, NMS and regions on planted outputs: exact answers, no trained weights needed."""

from __future__ import annotations

import numpy as np
import pytest

from models.coco import CLASS_ID, COCO_CLASSES
from models.detector import Detector, UnsupportedModel, tiles
from models.nms import cut_duplicates, suppress
from models.regions import clamp_region, fit_region
from models.testing import constant_model, nanodet_outputs
from models.yolo import YoloLayout

CAR, TRUCK, PERSON, BUS = CLASS_ID["car"], CLASS_ID["truck"], CLASS_ID["person"], CLASS_ID["bus"]


def yolo_head(boxes: list[tuple[float, float, float, float, int, float]], nc: int = 80):
    """A [1, 4 + nc, 8400] head with the given (cx, cy, w, h, class, score) at anchors 100+."""
    head = np.zeros((1, 4 + nc, 8400), np.float32)
    for k, (cx, cy, w, h, cls, score) in enumerate(boxes):
        head[0, :4, 100 + 37 * k] = cx, cy, w, h
        head[0, 4 + cls, 100 + 37 * k] = score
    return head


# -- Ultralytics YOLO -------------------------------------------------------------------------


def test_yolo_box_maps_back_through_the_letterbox_on_a_non_square_image(tmp_path):
    path = constant_model(
        tmp_path / "yolo.onnx",
        [1, 3, 640, 640],
        {"output0": yolo_head([(320, 320, 200, 100, CAR, 0.9)])},
    )
    detector = Detector(path)
    assert isinstance(detector.layout, YoloLayout) and detector.input_size == (640, 640)
    # 1280x720 → scale 0.5, resized to 640x360, padded 140 rows above and below.
    found = detector.detect(np.zeros((720, 1280, 3), np.uint8))
    assert found.class_names() == ["car"]
    np.testing.assert_allclose(found.xyxy[0], [440, 260, 840, 460], atol=1e-3)
    assert found.confidence[0] == pytest.approx(0.9)


def test_yolo_letterbox_of_a_portrait_image_pads_left_and_right(tmp_path):
    # 810x1080 (bus.jpg's size) into 640x480: scale 4/9, 360x480, 140 columns each side.
    head = yolo_head([(320, 240, 180, 240, BUS, 0.8)])
    path = constant_model(tmp_path / "yolo.onnx", [1, 3, 480, 640], {"output0": head})
    detector = Detector(path)
    assert detector.input_size == (640, 480)
    found = detector.detect(np.zeros((1080, 810, 3), np.uint8))
    # model box [230, 120, 410, 360] → ((x - 140) / (4/9), y / (4/9))
    np.testing.assert_allclose(found.xyxy[0], [202.5, 270, 607.5, 810], atol=1e-3)


def test_yolo_input_is_rgb_over_255_with_grey_114_bars(tmp_path):
    path = constant_model(tmp_path / "yolo.onnx", [1, 3, 640, 640], {"output0": yolo_head([])})
    layout = Detector(path).layout
    blue = np.zeros((360, 640, 3), np.uint8)
    blue[..., 0] = 255  # BGR blue
    tensor, to_image = layout.prepare(blue)
    assert tensor.shape == (1, 3, 640, 640) and tensor.dtype == np.float32
    assert tensor[0, :, :140].max() == tensor[0, :, :140].min() == pytest.approx(114 / 255)
    np.testing.assert_allclose(tensor[0, :, 320, 320], [0, 0, 1])  # R, G, B
    assert (to_image.pad_x, to_image.pad_y, to_image.scale_x) == (0, 140, 1.0)


def test_yolo_class_names_from_export_metadata(tmp_path):
    # A custom 3-class model: columns are bus, scooter (not COCO: dropped), car.
    head = np.zeros((1, 7, 8400), np.float32)
    head[0, :4, 5] = 100, 100, 50, 50
    head[0, 4, 5] = 0.7  # bus
    head[0, :4, 9] = 300, 300, 50, 50
    head[0, 5, 9] = 0.9  # scooter
    head[0, :4, 11] = 500, 500, 50, 50
    head[0, 6, 11] = 0.6  # car
    names = "{0: 'bus', 1: 'scooter', 2: 'car'}"
    path = constant_model(
        tmp_path / "custom.onnx", [1, 3, 640, 640], {"output0": head}, metadata={"names": names}
    )
    found = Detector(path).detect(np.zeros((640, 640, 3), np.uint8))
    assert sorted(found.class_names()) == ["bus", "car"]


def test_unknown_layout_names_the_outputs_found(tmp_path):
    path = constant_model(
        tmp_path / "odd.onnx", [1, 3, 64, 64], {"logits": np.zeros((1, 1000), np.float32)}
    )
    with pytest.raises(UnsupportedModel) as error:
        Detector(path)
    message = str(error.value)
    assert "logits [1, 1000]" in message and "NanoDet" in message and "YOLO" in message


# -- NanoDet ----------------------------------------------------------------------------------


def planted_nanodet(tmp_path, scores: list[tuple[int, int, float]], shuffle: bool = True):
    """A NanoDet-shaped model with, at stride 16, the cell (row 5, col 7) predicting the
    distances (2, 3, 4, 1) cells left/top/right/bottom, and the given (cell, class, score)."""
    outputs = nanodet_outputs()
    distribution = np.zeros(44, np.float32)
    for side, distance in enumerate((2, 3, 4, 1)):
        distribution[side * 11 + distance] = 30.0  # a one-hot softmax
    cell = 5 * 26 + 7
    outputs["boxes_16"][0, cell] = distribution
    for row_col, cls, score in scores:
        outputs["scores_16"][0, row_col, cls] = score
    names = list(outputs)
    if shuffle:  # roles and levels must come from the shapes, not the order or the names
        names = [names[i] for i in (3, 0, 5, 2, 1, 4)]
    return constant_model(
        tmp_path / "nanodet.onnx",
        [1, 3, 416, 416],
        {f"Identity_{i}:0": outputs[n] for i, n in enumerate(names)},
        input_name="input_1:0",
    )


def test_nanodet_decodes_distances_from_the_cell_centre_and_stretches_back(tmp_path):
    cell = 5 * 26 + 7
    detector = Detector(planted_nanodet(tmp_path, [(cell, CAR, 0.8)]))
    found = detector.detect(np.zeros((416, 832, 3), np.uint8))  # stretched 2x horizontally
    assert found.class_names() == ["car"]
    # centre (7.5 * 16, 5.5 * 16) = (120, 88); box [120-32, 88-48, 120+64, 88+16] in the input
    np.testing.assert_allclose(found.xyxy[0], [176, 40, 368, 104], atol=1e-2)


def test_vehicle_classes_share_nms_and_the_higher_score_wins(tmp_path):
    cell = 5 * 26 + 7
    path = planted_nanodet(tmp_path, [(cell, CAR, 0.35), (cell, TRUCK, 0.36), (cell, PERSON, 0.5)])
    found = Detector(path).detect(np.zeros((416, 416, 3), np.uint8))
    assert sorted(found.class_names()) == ["person", "truck"]


def test_class_filter_and_score_threshold(tmp_path):
    cell = 5 * 26 + 7
    path = planted_nanodet(tmp_path, [(cell, CAR, 0.35), (cell, PERSON, 0.5)])
    image = np.zeros((416, 416, 3), np.uint8)
    assert Detector(path, classes={"car"}).detect(image).class_names() == ["car"]
    assert Detector(path, score_threshold=0.4).detect(image).class_names() == ["person"]
    with pytest.raises(ValueError, match="lorry"):
        Detector(path, classes={"lorry"})


def test_classes_outside_the_default_set_are_dropped(tmp_path):
    cell = 5 * 26 + 7
    path = planted_nanodet(tmp_path, [(cell, CLASS_ID["train"], 0.9)])
    assert len(Detector(path).detect(np.zeros((416, 416, 3), np.uint8))) == 0
    assert COCO_CLASSES[CLASS_ID["train"]] == "train"


def test_detect_regions_maps_crop_boxes_back_to_the_frame(tmp_path):
    cell = 5 * 26 + 7
    detector = Detector(planted_nanodet(tmp_path, [(cell, CAR, 0.8)]))
    frame = np.zeros((1000, 1500, 3), np.uint8)
    # A square region of exactly the input size: no growth, no scaling, offset only.
    found = detector.detect_regions(frame, [(600, 300, 1016, 716)])
    np.testing.assert_allclose(found.xyxy[0], [600 + 88, 300 + 40, 600 + 184, 300 + 104], atol=0.01)
    # A region partly outside the frame is clamped; one wholly outside gives nothing.
    assert len(detector.detect_regions(frame, [(5000, 5000, 6000, 6000)])) == 0
    assert len(detector.detect_regions(frame, [(1200, -50, 1700, 400)])) == 1


def test_detect_accepts_grey_and_bgra_frames(tmp_path):
    cell = 5 * 26 + 7
    detector = Detector(planted_nanodet(tmp_path, [(cell, CAR, 0.8)]))
    assert len(detector.detect(np.zeros((416, 416), np.uint8))) == 1
    assert len(detector.detect(np.zeros((416, 416, 4), np.uint8))) == 1
    with pytest.raises(ValueError, match="uint8"):
        detector.detect(np.zeros((416, 416, 3), np.float32))


# -- NMS, crops and tiles ---------------------------------------------------------------------


def test_suppress_merges_vehicles_but_not_people():
    xyxy = np.array([[0, 0, 100, 100], [2, 2, 100, 100], [1, 1, 99, 99], [300, 300, 400, 400]])
    scores = np.array([0.35, 0.36, 0.5, 0.4], np.float32)
    classes = np.array([CAR, TRUCK, PERSON, CAR])
    keep = suppress(xyxy.astype(np.float32), scores, classes, iou=0.5, max_detections=10)
    assert keep.tolist() == [2, 3, 1]  # best first: person, the far car, the truck


def test_a_cut_box_gives_way_to_the_whole_box_from_another_crop():
    xyxy = np.array([[100, 100, 200, 180], [150, 100, 200, 180], [150, 100, 200, 180]], np.float32)
    crop = np.array([0, 1, 2])
    cut = np.array([False, True, True])
    classes = np.array([CAR, TRUCK, PERSON])
    drop = cut_duplicates(xyxy, classes, crop, cut, cover=0.6)
    assert drop.tolist() == [False, True, False]  # a person is not covered by a car


def test_tiles_cover_the_image_with_overlap_and_end_flush():
    regions = tiles((1080, 1920, 3), 640, overlap=0.25)
    covered = np.zeros((1080, 1920), bool)
    for x0, y0, x1, y1 in regions:
        assert x1 - x0 == 640 and y1 - y0 == 640
        covered[y0:y1, x0:x1] = True
    assert covered.all()
    xs = sorted({r[0] for r in regions})
    assert xs[0] == 0 and xs[-1] + 640 == 1920
    assert all(b - a <= 640 * 0.75 for a, b in zip(xs, xs[1:], strict=False))
    assert tiles((300, 200), 640) == [(0, 0, 200, 300)]
    with pytest.raises(ValueError):
        tiles((100, 100), 64, overlap=1.0)


def test_regions_grow_to_the_model_aspect_inside_the_frame():
    assert clamp_region((-10, 5, 50, 2000), 100, 100) == (0, 5, 50, 100)
    assert clamp_region((200, 200, 300, 300), 100, 100) is None
    # A wide zone becomes square (the model's aspect) around its centre.
    assert fit_region((100, 500, 900, 700), 1920, 1080, (416, 416)) == (100, 200, 900, 1000)
    # Near the bottom edge it is shifted up, not cut.
    assert fit_region((100, 900, 900, 1080), 1920, 1080, (416, 416)) == (100, 280, 900, 1080)
    # A tiny region grows to at most a 2x upscale (208 px for a 416 input).
    assert fit_region((500, 500, 520, 520), 1920, 1080, (416, 416)) == (406, 406, 614, 614)
