"""One detector for a whole node: every camera's model runs go through one queue to one thread.

Each ONNX Runtime run already uses every core. Camera threads calling one session at once
therefore oversubscribe the box: measured on 2 cores with `vtest.avi`, a run took 30 ms for
one camera, 104 ms with four and 580 ms with sixteen, and sixteen cameras fell behind real
time. Frigate runs one detector fed by a queue; so does the node. A camera thread still does
its own resizing, decoding and NMS (they are cheap and run in parallel); only `session.run`
waits its turn.

How many runs go at once is set for the whole node, not per call: `runners` threads take
frames from the queue, each running the session on one core (`threads=1`) or one runner
using them all. On 2 cores two single-threaded runners cost 51 CPU ms a run against 61 for
one run on both cores, since one model this small splits badly across threads.

Every request carries its own future, so each camera gets the answer to its own frame
whatever order the cameras ask in. A camera that stops asking (a dead stream) holds nothing:
the queue only ever holds frames that are waiting to be detected. A failed run is raised in
the camera that asked, as `DetectorFailed` naming the model, and the worker serves the next.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from models.detections import Detections
from models.detector import Detector, load_detector
from models.regions import Region

T = TypeVar("T")


class FrameDetector(Protocol):
    """What a camera needs of a detector (`Detector`, or a stand-in in tests)."""

    def detect(self, image: np.ndarray) -> Detections: ...

    def detect_regions(self, image: np.ndarray, regions: list[Region]) -> Detections: ...


class DetectorFailed(RuntimeError):
    """A model run failed; the message names the model and the reason."""


@dataclass
class WorkerStats:
    """What the worker did: runs, seconds running them (summed over runners), and seconds
    requests queued."""

    runs: int = 0
    busy_s: float = 0.0
    queued_s: float = 0.0
    failures: int = 0

    @property
    def ms_per_run(self) -> float:
        return 1000 * self.busy_s / self.runs if self.runs else 0.0


class DetectorWorker:
    """Serves `detect` and `detect_regions` to any number of camera threads with one model.

    A `Detector` is split: its model runs go to the worker, the rest stays on the caller's
    thread. Any other detector (a stand-in) runs whole on the worker. `runners` runs go at
    once (one by default: a session with several threads of its own must run alone). The
    threads start on the first request and end at `close()`; a later request starts them
    again.
    """

    def __init__(self, detector: FrameDetector, runners: int = 1) -> None:
        if runners < 1:
            raise ValueError(f"a detector worker needs at least one runner, got {runners}")
        self.detector = detector
        self.runners = runners
        self.stats = WorkerStats()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._model = getattr(detector, "model_path", None)
        self._front = detector.through(self._run_model) if isinstance(detector, Detector) else None

    def detect(self, image: np.ndarray) -> Detections:
        if self._front is not None:
            return self._front.detect(image)
        return self._submit(self.detector.detect, image)

    def detect_regions(self, image: np.ndarray, regions: Sequence[Region]) -> Detections:
        if self._front is not None:
            return self._front.detect_regions(image, regions)
        return self._submit(self.detector.detect_regions, image, list(regions))

    def close(self) -> None:
        """Finish the queued requests and end the worker's thread."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True)

    def _run_model(self, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        assert isinstance(self.detector, Detector)
        try:
            return self._submit(self.detector.run_model, feeds)
        except Exception as exc:
            raise DetectorFailed(f"detector {self._model} failed: {exc}") from exc

    def _submit(self, call: Callable[..., T], *args: object) -> T:
        future = self._executor().submit(self._timed, call, time.perf_counter(), *args)
        return future.result()

    def _timed(self, call: Callable[..., T], queued_at: float, *args: object) -> T:
        started = time.perf_counter()
        try:
            return call(*args)
        except Exception:
            with self._lock:
                self.stats.failures += 1
            raise
        finally:
            finished = time.perf_counter()
            with self._lock:
                self.stats.runs += 1
                self.stats.busy_s += finished - started
                self.stats.queued_s += started - queued_at

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.runners, thread_name_prefix="detector")
            return self._pool


def node_detector(
    model: object = None, threads: int | None = None, **options: object
) -> DetectorWorker:
    """The detector of a node: one session whose runs each take one core, `threads` of them
    at once (one per core when None). Options are those of `Detector`."""
    runners = threads or os.cpu_count() or 1
    return DetectorWorker(load_detector(model, threads=1, **options), runners=runners)  # type: ignore[arg-type]
