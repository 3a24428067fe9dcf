"""Where episode transitions go: the node's JSON-lines log (one self-contained record per
transition, flushed at once so a power cut loses at most a line), memory (tests), and,
through edge/uplink.py, the MQTT outbox."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Protocol

from mqtt.payloads import EpisodeRecord


class EpisodeSink(Protocol):
    def publish(self, record: EpisodeRecord) -> None: ...


class JsonLinesSink:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file = path.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # cameras run in threads and share the log

    def publish(self, record: EpisodeRecord) -> None:
        line = record.model_dump_json()
        with self._lock:
            self._file.write(line + "\n")
            self._file.flush()

    def close(self) -> None:
        self._file.close()


def read_episode_log(path: Path) -> list[EpisodeRecord]:
    """The records a `JsonLinesSink` wrote, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [EpisodeRecord.model_validate_json(line) for line in lines if line]


class MemorySink:
    """Collects records in memory: for tests and benchmarks."""

    def __init__(self) -> None:
        self.records: list[EpisodeRecord] = []

    def publish(self, record: EpisodeRecord) -> None:
        self.records.append(record)


def close_if_closable(thing: object) -> None:
    """Frame sources are plain iterables unless they hold a stream; sinks may hold a file."""
    close = getattr(thing, "close", None)
    if callable(close):
        close()
