"""COCO-80 class names (the order every COCO-trained detector uses) and the classes we act on."""

COCO_CLASSES: tuple[str, ...] = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
    "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
    "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
    "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
    "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
    "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
    "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
    "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
    "teddy bear", "hair drier", "toothbrush",
)  # fmt: skip

CLASS_ID: dict[str, int] = {name: i for i, name in enumerate(COCO_CLASSES)}

# Vehicles a no-parking zone can hold.
VEHICLE_CLASSES: frozenset[str] = frozenset({"car", "bus", "truck", "motorcycle"})
# Road users kept for the congestion and safety logic.
ROAD_USER_CLASSES: frozenset[str] = VEHICLE_CLASSES | {"bicycle", "person"}
