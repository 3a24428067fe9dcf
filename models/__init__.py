"""Vehicle detection on ONNX Runtime: one detector interface, where the weights come from."""

from models.coco import COCO_CLASSES, ROAD_USER_CLASSES, VEHICLE_CLASSES
from models.detections import Detections

__all__ = ["COCO_CLASSES", "ROAD_USER_CLASSES", "VEHICLE_CLASSES", "Detections"]
