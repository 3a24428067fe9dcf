"""`roadguard bench capacity`: the search for the largest camera count that keeps real time,
and the command on real footage (a short run: the real answer takes a minute)."""

from __future__ import annotations

import pytest

from edge.capacity import CapacityRun, find_capacity
from roadguard.cli import main


def box_that_fits(limit: float, growth: float = 0.0):
    """A fake box: N cameras take N / limit of real time, each camera costing `growth` more
    per camera already running (threads and queueing)."""
    counts: list[int] = []

    def run(cameras: int) -> CapacityRun:
        counts.append(cameras)
        wall = 20.0 * cameras / limit * (1 + growth * cameras)
        return CapacityRun(cameras, 2.0, 20.0, wall, wall, cameras * 40, cameras * 40, 25.0)

    return run, counts


def test_the_probe_predicts_and_a_run_at_the_prediction_confirms_it():
    run, counts = box_that_fits(24.5)
    answer = find_capacity(run, probe=4)
    assert answer.cameras == 24 and counts == [4, 24]


def test_a_prediction_that_falls_behind_is_corrected_downwards():
    run, counts = box_that_fits(20, growth=0.01)  # 4: 0.21 of real time; 19: 1.13; 16: 0.93
    answer = find_capacity(run, probe=4)
    assert counts == [4, 19, 16] and answer.cameras == 16
    assert [r.keeps_up for r in answer.runs] == [True, False, True]


def test_a_box_that_cannot_keep_one_camera_says_so():
    run, _ = box_that_fits(0.5)
    assert find_capacity(run, probe=4).cameras == 0


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_bench_capacity_reports_each_count_with_its_stages(capsys):
    assert main(["bench", "capacity", "--cameras", "1", "2", "--seconds", "2"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "vtest.avi, 2 detections/s per camera, 2 s per run" in lines[0]
    header = next(line for line in lines if line.lstrip().startswith("cameras"))
    for column in ("wall/footage", "det/s/cam", "model ms", "source", "gate", "detector"):
        assert column in header
    rows = [line.split() for line in lines[lines.index(header) + 1 :] if line[:7].strip()]
    assert [row[0] for row in rows[:2]] == ["1", "2"]
    assert all(float(row[2]) == 2.0 for row in rows[:2])  # 2 detections/s: nothing moved less
    assert "Largest count run that kept real time:" in out


def test_bench_capacity_refuses_a_source_it_cannot_read(tmp_path, capsys):
    missing = tmp_path / "nowhere.avi"
    assert main(["bench", "capacity", "--source", str(missing), "--cameras", "1"]) == 2
    assert f"no video file at {missing}" in capsys.readouterr().err


def test_bench_capacity_points_at_the_8_bit_model(tmp_path, monkeypatch):
    """24 cameras on 2 cores need the 8-bit model (issue 15): the float model's answer
    says how to make it, or where it already is."""
    import models.weights
    from edge.cli import _faster_model_hint
    from models.quantise import QUANTISED_NAME

    monkeypatch.setattr(models.weights, "models_dir", lambda: tmp_path)
    assert "`roadguard edge quantise`" in _faster_model_hint()
    (tmp_path / QUANTISED_NAME).write_bytes(b"onnx")
    assert f"--model {tmp_path / QUANTISED_NAME}" in _faster_model_hint()
