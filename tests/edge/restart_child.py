"""A node process for the restart test: the test pipeline (a stand-in detector seeing one
parked car) with wall-clock frame times and an episode state file; it prints each transition
as a JSON line. With --hang-after EVENT it stops answering right after that transition (as a
box whose power is about to be cut) until the parent kills it."""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

import numpy as np

from cameras.frames import Frame
from edge.persistence import EpisodeStore
from edge.pipeline import CameraPipeline
from edge.testing import frame_with_car, make_pipeline
from mqtt.payloads import EpisodeRecord

EPOCH = 1_795_000_000.0  # frame times are wall-clock seconds, as a live camera gives them


class PrintSink:
    def __init__(self, hang_after: str | None) -> None:
        self.hang_after = hang_after

    def publish(self, record: EpisodeRecord) -> None:
        print(record.model_dump_json(), flush=True)
        if record.event == self.hang_after:
            threading.Event().wait()  # hung: only SIGKILL ends this process


def frame_at(index: int, car: bool) -> Frame:
    frame = frame_with_car(index, car)
    return Frame(frame.camera_id, index, EPOCH + index / 5, np.ascontiguousarray(frame.image))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("state", type=Path)
    parser.add_argument("evidence", type=Path)
    parser.add_argument("--frames", type=int, nargs=2, required=True, help="first, end")
    parser.add_argument("--car-until", type=int, default=10**9, help="frame the car leaves")
    parser.add_argument("--hang-after")
    args = parser.parse_args()
    pipeline: CameraPipeline
    pipeline, _, _ = make_pipeline(args.evidence.parent, PrintSink(args.hang_after), args.evidence)
    pipeline.state_store = EpisodeStore(args.state)
    for index in range(*args.frames):
        pipeline.process(frame_at(index, car=index < args.car_until))
    print(json.dumps({"event": "exit"}), flush=True)


if __name__ == "__main__":
    sys.exit(main())
