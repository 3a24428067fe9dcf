"""Cameras at real time on this box: the node on 1, 4, 8, 16 and 24 copies of the real footage
(`vtest.avi`, `roadguard photos fetch`) at 2 detections per second per camera, each read as
fast as it decodes. Per count: wall time over footage time (at most 1 keeps real time),
detections per second per camera, detector calls per frame (what the motion gate saved),
milliseconds per model run in the node's detector worker, the share of the box's CPU used,
and milliseconds per frame in each stage. Run with `make bench`, or alone:

    pytest benchmarks/bench_capacity.py -s

ROADGUARD_BENCH_SECONDS sets the footage per camera (30 s by default; the clip loops);
ROADGUARD_BENCH_MODEL another model, e.g. the 8-bit one of `roadguard edge quantise`.
`roadguard bench capacity` answers the operator's question (the largest count) directly.
"""

from __future__ import annotations

import os

import pytest

from edge.capacity import STAGES, CapacityRun, run_cameras, table
from models.worker import node_detector

COUNTS = (1, 4, 8, 16, 24)
FPS = 2.0
SECONDS = float(os.environ.get("ROADGUARD_BENCH_SECONDS", "30"))
RESULTS: dict[int, CapacityRun] = {}


@pytest.fixture(scope="module")
def footage() -> str:
    from cameras.photos import photo_path

    return str(photo_path("campus_video"))


@pytest.fixture(scope="module")
def detector():
    # what `roadguard edge run` runs: one core per model run, one run per core
    return node_detector(os.environ.get("ROADGUARD_BENCH_MODEL") or None)


@pytest.mark.benchmark(group="capacity")
@pytest.mark.parametrize("cameras", COUNTS)
def test_cameras_at_real_time(benchmark, detector, footage, cameras):
    def run() -> CapacityRun:
        return run_cameras(detector, footage, cameras, FPS, SECONDS)

    result = benchmark.pedantic(run, rounds=1, iterations=1, warmup_rounds=0)
    RESULTS[cameras] = result
    benchmark.extra_info.update(
        cameras=cameras,
        realtime=round(result.realtime, 3),
        keeps_up=result.keeps_up,
        detections_per_camera_s=round(result.detections_per_camera_s, 2),
        calls_per_frame=round(result.calls_per_frame, 3),
        model_ms=round(result.model_ms, 1),
        cpu_share=round(result.cpu_share, 3),
        load_average=os.getloadavg()[0],
        **{f"{stage}_ms_per_frame": round(result.stage_ms(stage), 2) for stage in STAGES},
    )
    assert result.errors == 0
    print(f"\n{table(list(RESULTS.values()))}\nload average {os.getloadavg()}")
