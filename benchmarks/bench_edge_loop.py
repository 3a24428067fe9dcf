"""Frames per second of the whole edge loop on the demo scene, with and without the motion
gate, and the detector calls the gate saves. Run with `make bench`."""

from __future__ import annotations

import pytest

from cameras.scene import load_scene
from edge.cli import DEMO_CONFIG
from edge.config_loader import load_site_config
from edge.evidence import EvidenceStore
from edge.pipeline import CameraPipeline
from edge.sinks import MemorySink
from models.detector import load_detector

SITE = load_site_config(DEMO_CONFIG)  # exactly what `make demo` runs


@pytest.fixture(scope="module")
def frames():
    camera = SITE.cameras[0]
    return list(load_scene(camera.source.removeprefix("scene:"), camera_id=camera.id))


@pytest.fixture(scope="module")
def detector():
    return load_detector()


@pytest.mark.parametrize("gate", [True, False], ids=["motion-gate", "no-gate"])
def test_edge_loop_fps(benchmark, frames, detector, tmp_path, gate):
    site = SITE.model_copy(update={"motion": SITE.motion.model_copy(update={"enabled": gate})})
    pipelines: list[CameraPipeline] = []

    def run_once() -> None:
        pipeline = CameraPipeline(
            site, site.cameras[0], detector, MemorySink(), EvidenceStore(tmp_path / "ev")
        )
        for frame in frames:
            pipeline.process(frame)
        pipelines.append(pipeline)

    benchmark.pedantic(run_once, rounds=2, iterations=1, warmup_rounds=0)
    stats = pipelines[-1].stats
    seconds = benchmark.stats.stats.mean
    benchmark.extra_info.update(
        frames=stats.frames,
        detector_calls=stats.detector_calls,
        calls_saved=stats.frames - stats.detector_calls,
        fps=round(stats.frames / seconds, 1),
        detector_ms=round(stats.detector_ms, 1),
        events=stats.events,
    )
    print(
        f"\n{'gate' if gate else 'no gate'}: {stats.frames} frames, "
        f"{stats.detector_calls} detector calls, {stats.frames / seconds:.1f} fps"
    )
