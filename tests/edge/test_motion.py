"""The motion gate runs the detector on change and on the periodic re-check only."""

import numpy as np

from edge.config import MotionConfig
from edge.motion import MotionGate


def test_gate_skips_still_frames_and_rechecks_periodically():
    gate = MotionGate(MotionConfig(recheck_s=2))
    still = np.zeros((540, 960, 3), np.uint8)
    still[:] = np.linspace(40, 200, 960, dtype=np.uint8)[None, :, None]  # a lit road
    decisions = [gate.should_detect(still, i / 5) for i in range(21)]  # 4 s at 5 fps
    assert decisions[0]  # first frame: nothing to compare with
    assert decisions.count(True) == 3  # t = 0, 2, 4: only the re-checks
    moved = still.copy()
    moved[200:300, 300:500] = 255  # a vehicle drives in
    assert gate.should_detect(moved, 4.2)
    assert gate.skipped == 18


def test_disabled_gate_always_detects():
    gate = MotionGate(MotionConfig(enabled=False))
    frame = np.zeros((100, 100, 3), np.uint8)
    assert all(gate.should_detect(frame, i) for i in range(5))
