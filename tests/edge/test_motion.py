"""The motion gate runs the detector on change and on the periodic re-check only."""

import numpy as np
import pytest

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


@pytest.mark.needs_photos
@pytest.mark.parametrize("fps", [5, 2])
def test_a_still_real_scene_with_a_parked_van_costs_five_times_fewer_detections_than_frames(fps):
    """Real footage, its compression noise and all: the corner of `vtest.avi` where the van is
    parked, from 26 s to 66 s, when nobody walks through it. The default gate must run the
    detector on at most one frame in five (it runs on the re-checks only)."""
    from cameras.photos import photo_path
    from cameras.recorded import VideoFileSource

    gate = MotionGate(MotionConfig())
    calls = frames = 0
    for frame in VideoFileSource(photo_path("campus_video"), fps_cap=fps):
        if not 26 <= frame.timestamp < 66:
            continue
        van_corner = np.ascontiguousarray(frame.image[0:130, 560:768])
        frames += 1
        calls += gate.should_detect(van_corner, frame.timestamp)
    assert frames == 40 * fps
    assert calls * 5 <= frames, (calls, frames)
