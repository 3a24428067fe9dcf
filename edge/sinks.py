"""Where episode transitions go. Until the MQTT outbox (issue 4) a JSON-lines log: one
self-contained record per transition, flushed at once so a power cut loses at most a line."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Protocol


class EpisodeSink(Protocol):
    def publish(self, record: dict[str, Any]) -> None: ...


class JsonLinesSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # cameras run in threads and share the log

    def publish(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, ensure_ascii=False)
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


class MemorySink:
    """Collects records in memory: for tests and benchmarks."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []

    def publish(self, record: dict[str, Any]) -> None:
        self.records.append(record)


def close_if_closable(thing: object) -> None:
    """Frame sources are plain iterables unless they hold a stream; sinks may hold a file."""
    close = getattr(thing, "close", None)
    if callable(close):
        close()
