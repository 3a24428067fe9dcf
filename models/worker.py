"""One detector for a whole node: every camera's model runs go through one queue to one thread.

Each ONNX Runtime run already uses every core. Camera threads calling one session at once
therefore oversubscribe the box: measured on 2 cores with `vtest.avi`, a run took 30 ms for
one camera, 104 ms with four and 580 ms with sixteen, and sixteen cameras fell behind real
time. Frigate runs one detector fed by a queue; so does the node. A camera thread still does
its own resizing, decoding and NMS (they are cheap and run in parallel); only `session.run`
waits its turn.

Every request carries its own future, so each camera gets the answer to its own frame
whatever order the cameras ask in. A camera that stops asking (a dead stream) holds nothing:
the queue only ever holds frames that are waiting to be detected. A failed run is raised in
the camera that asked, as `DetectorFailed` naming the model, and the worker serves the next.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol, TypeVar

import numpy as np

from models.detections import Detections
from models.detector import Detector
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
    """What the worker did: runs, seconds running them, and seconds requests queued."""

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
    thread. Any other detector (a stand-in) runs whole on the worker. The worker's thread
    starts on the first request and ends at `close()`; a later request starts it again.
    """

    def __init__(self, detector: FrameDetector) -> None:
        self.detector = detector
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
            self.stats.failures += 1
            raise
        finally:
            stats = self.stats  # only the worker's one thread writes these
            stats.runs += 1
            stats.busy_s += time.perf_counter() - started
            stats.queued_s += started - queued_at

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="detector")
            return self._pool
