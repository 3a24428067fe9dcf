"""How many cameras this box keeps in real time: `roadguard bench capacity`.

The node itself runs (EdgeNode: a thread per camera, the motion gate, the one detector
worker, the tracker and the episode rules) on N copies of one source, each capped at the
detection rate and read as fast as it decodes. N cameras keep real time when the node gets
through `seconds` of footage on each of them in at most `seconds` of wall time. Cost grows
with the cameras, so one short probe estimates the answer and runs at that count check it.

Only files and folders can be read faster than real time; a live stream paces itself, so
on a stream the answer is only "keeps up" or not.
"""

from __future__ import annotations

import math
import os
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from cameras.frames import Frame
from cameras.sources import SourceSpec, open_source
from edge.config import CameraConfig, SiteConfig
from edge.node import EdgeNode
from edge.sinks import MemorySink
from models.worker import DetectorWorker, FrameDetector, WorkerStats

STAGES = ("source", "gate", "detector", "tracker", "episodes")
# The whole frame is one zone: every vehicle in view goes through the episode rules.
WHOLE_FRAME = [(0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0)]

Progress = Callable[[int, int], None]  # (frames done, frames in all), called while running


@dataclass(frozen=True)
class CapacityRun:
    """One run of N cameras: what it cost and where the time went."""

    cameras: int
    fps: float
    footage_s: float  # per camera
    wall_s: float
    cpu_s: float  # of the whole process, every thread
    frames: int
    detector_calls: int
    model_ms: float  # one model run in the detector worker
    stages: dict[str, float] = field(default_factory=dict)  # seconds, all cameras together
    errors: int = 0

    @property
    def realtime(self) -> float:
        """Wall time over footage time: at most 1 keeps up."""
        return self.wall_s / self.footage_s if self.footage_s else math.inf

    @property
    def keeps_up(self) -> bool:
        return self.footage_s > 0 and self.realtime <= 1.0 and not self.errors

    @property
    def detections_per_camera_s(self) -> float:
        return self.detector_calls / self.cameras / self.footage_s if self.footage_s else 0.0

    @property
    def calls_per_frame(self) -> float:
        return self.detector_calls / self.frames if self.frames else 0.0

    @property
    def cpu_share(self) -> float:
        """Share of the box's cores this process used."""
        return self.cpu_s / (self.wall_s * (os.cpu_count() or 1)) if self.wall_s else 0.0

    @property
    def cpu_ms_per_frame(self) -> float:
        """CPU milliseconds (every thread of the process) per frame analysed: unlike the wall
        time, hardly changed by other programs sharing the box."""
        return 1000 * self.cpu_s / self.frames if self.frames else 0.0

    @property
    def cameras_on_idle_box(self) -> float:
        """Cameras the box's cores could carry at this cost per frame with nothing else
        running: an upper bound, since threads never share the cores perfectly."""
        per_camera = self.fps * self.cpu_ms_per_frame / 1000
        return (os.cpu_count() or 1) / per_camera if per_camera else 0.0

    def stage_ms(self, stage: str) -> float:
        """Milliseconds per frame in one stage (wall, on the camera's thread)."""
        return 1000 * self.stages.get(stage, 0.0) / self.frames if self.frames else 0.0


@dataclass
class CapacityAnswer:
    """The largest camera count that kept real time, and every run that decided it."""

    cameras: int  # 0: not even the smallest count kept up
    runs: list[CapacityRun]
    estimate: int


def bench_site(source: str, cameras: int, fps: float, out: Path) -> SiteConfig:
    """A node of `cameras` copies of `source` at `fps`, its files in `out`, without voice."""
    return SiteConfig(
        node_id="bench",
        cameras=[
            CameraConfig(
                id=f"cam{i:02d}",
                source=source,
                fps=fps,
                zones=[{"id": "view", "polygon": WHOLE_FRAME}],  # type: ignore[list-item]
            )
            for i in range(1, cameras + 1)
        ],
        announcer={"enabled": False},  # type: ignore[arg-type]
        output={  # type: ignore[arg-type]
            "episode_log": out / "episodes.jsonl",
            "evidence_dir": out / "evidence",
            "state_file": out / "state.db",
        },
    )


def looping_source(camera: CameraConfig) -> Iterable[Frame]:
    """The camera's source, restarting at its end so any `seconds` can be asked for."""
    return open_source(
        SourceSpec(url=camera.source, camera_id=camera.id, fps_cap=camera.fps, loop=True)
    )


def run_cameras(
    detector: FrameDetector,
    source: str,
    cameras: int,
    fps: float,
    seconds: float,
    progress: Progress | None = None,
) -> CapacityRun:
    """The node on `cameras` copies of `source` for `seconds` of footage each."""
    frames_each = max(1, round(seconds * fps))
    with tempfile.TemporaryDirectory(prefix="roadguard-bench-") as tmp:
        site = bench_site(source, cameras, fps, Path(tmp))
        worker = detector if isinstance(detector, DetectorWorker) else DetectorWorker(detector)
        worker.stats = WorkerStats()  # this run's model runs only
        node = EdgeNode(
            site, worker, MemorySink(), source_factory=looping_source, max_frames=frames_each
        )
        done = threading.Event()
        watcher = threading.Thread(
            target=_report_progress, args=(node, cameras * frames_each, progress, done)
        )
        watcher.start()
        cpu, wall = time.process_time(), time.perf_counter()
        try:
            node.run()
        finally:
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            done.set()
            watcher.join()
    stats = [p.stats for p in node.pipelines.values()]
    stages: Counter[str] = Counter()
    for s in stats:
        stages.update(s.stages)
    frames = sum(s.frames for s in stats)
    return CapacityRun(
        cameras=cameras,
        fps=fps,
        footage_s=frames / cameras / fps,
        wall_s=wall,
        cpu_s=cpu,
        frames=frames,
        detector_calls=sum(s.detector_calls for s in stats),
        model_ms=worker.stats.ms_per_run,
        stages=dict(stages),
        errors=sum(node.errors.values()),
    )


def _report_progress(
    node: EdgeNode, total: int, progress: Progress | None, done: threading.Event
) -> None:
    if progress is None:
        return
    while not done.wait(0.25):
        progress(sum(p.stats.frames for p in node.pipelines.values()), total)
    progress(sum(p.stats.frames for p in node.pipelines.values()), total)


def find_capacity(
    run: Callable[[int], CapacityRun], probe: int | None = None, checks: int = 2
) -> CapacityAnswer:
    """The largest camera count whose run kept real time (0 when none did).

    A probe of `probe` cameras (two per core: enough to fill the box) gives the cost of a
    camera; up to `checks` runs at the count it predicts correct the estimate, since the cost
    per camera grows a little with the cameras (more threads, more queueing)."""
    probe = probe or 2 * (os.cpu_count() or 1)
    runs = [run(probe)]
    best = probe if runs[0].keeps_up else 0
    count = estimate = _predict(runs[0])
    for _ in range(checks):
        if count < 1 or any(r.cameras == count for r in runs):
            break
        runs.append(result := run(count))
        estimate = _predict(result)
        if result.keeps_up:
            best = max(best, count)
            count = estimate  # more, if this one had room to spare
        else:
            count = min(estimate, count - 1)
    return CapacityAnswer(best, runs, estimate)


def _predict(run: CapacityRun) -> int:
    """The camera count at which this run's cost per camera would just keep real time."""
    return math.floor(run.cameras / run.realtime) if run.footage_s else 0


def table(runs: list[CapacityRun]) -> str:
    """The runs as a table an operator can read: real time, detection rate, per stage."""
    header = (
        f"{'cameras':>7} {'wall/footage':>12} {'det/s/cam':>9} {'calls/frame':>11} "
        f"{'model ms':>8} {'cpu':>5} {'cpu ms/frame':>12} {'idle-box cams':>13}  "
        "ms per frame: " + " ".join(f"{s:>8}" for s in STAGES)
    )
    lines = [header]
    for r in runs:
        lines.append(
            f"{r.cameras:>7} {r.realtime:>12.2f} {r.detections_per_camera_s:>9.2f} "
            f"{r.calls_per_frame:>11.2f} {r.model_ms:>8.1f} {r.cpu_share:>5.0%} "
            f"{r.cpu_ms_per_frame:>12.1f} {r.cameras_on_idle_box:>13.1f}  "
            f"{'':14}" + " ".join(f"{r.stage_ms(s):>8.1f}" for s in STAGES)
        )
    return "\n".join(lines)
