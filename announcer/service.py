"""The announcer: decides whether a ladder step is spoken, and plays it — one at a time.

The ladder must never wait for a speaker. `announce()` returns at once with the clip the
warning will use (its name is known before it is rendered); a single worker thread plays the
queue, newest escalation first, so two announcements never talk over each other. A speaker
that fails is reported (in the result and in `health()`), and the next one is tried.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from announcer.clips import Audio, ClipCache, Utterance, at_volume, join, read_wav, write_wav
from announcer.config import DEFAULT_VOICES, AnnouncerConfig
from announcer.messages import WarningStep, compose
from announcer.outputs import AudioOutput, PlaybackFailed, build_output
from announcer.policy import AnnouncementPolicy
from announcer.speech import Synthesiser, fallback_plan, resolve_voices

log = logging.getLogger(__name__)

Listener = Callable[["Announcement"], None]

_TEST_WORDS = {
    "zh": "这是道路卫士广播测试。",
    "en": "This is a RoadGuard speaker test.",
}


@dataclass
class Announcement:
    """One spoken warning and what became of it; `record()` goes into the episode."""

    step: WarningStep
    text: str
    clip: str
    utterances: list[Utterance]
    # queued, played, failed, text_only, muted, covered, limit, stale or disabled
    status: str = "queued"
    volume: float = 1.0
    reason: str = ""
    played_at: str | None = None
    errors: list[str] = field(default_factory=list)
    queued_wall: float = 0.0
    done: threading.Event = field(default_factory=threading.Event)
    # What the speakers were given (the clip at its volume): the node keeps it as evidence.
    audio: Audio | None = None

    def record(self) -> dict[str, Any]:
        return {
            "clip": self.clip,
            "text": self.text,
            "status": self.status,
            **({"volume": self.volume} if self.volume < 1 else {}),
            **({"reason": self.reason} if self.reason else {}),
            "played_at": self.played_at,
            **({"errors": list(self.errors)} if self.errors else {}),
        }


class Announcer:
    def __init__(
        self,
        config: AnnouncerConfig,
        cache: ClipCache,
        outputs: Sequence[AudioOutput] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.cache = cache
        self.outputs = (
            list(outputs) if outputs is not None else [build_output(o) for o in config.outputs]
        )
        self.policy = AnnouncementPolicy(config)
        self.clock = clock
        self.counts: Counter[str] = Counter()
        self.last_error: str | None = None
        self._queue: queue.PriorityQueue[tuple[int, int, Announcement, Listener | None]] = (
            queue.PriorityQueue()
        )
        self._order = itertools.count()
        self._worker: threading.Thread | None = None
        self._stopping = threading.Event()
        wanted = {**DEFAULT_VOICES, **config.voices}  # a site's zh voice keeps the en default
        voices = resolve_voices(wanted, cache.synthesiser.voice_ids(), list(wanted))
        self.voices = voices
        self.spoken_languages = fallback_plan(config.languages, voices)

    # -- preparing ---------------------------------------------------------------------------
    def utterances(self, step: WarningStep) -> list[Utterance]:
        return [
            Utterance(
                compose(self.config, step, lang), lang, self.voices[lang] or "", self.config.rate
            )
            for lang in self.spoken_languages
        ]

    def prepare(self, steps: Sequence[WarningStep]) -> int:
        """Render the clips of these steps now (at start-up), so warnings start at once.
        Returns how many were synthesised (0 when all were cached)."""
        before = self.cache.rendered
        for step in steps:
            self._clip_for(self.utterances(step))
        return self.cache.rendered - before

    # -- announcing --------------------------------------------------------------------------
    def announce(
        self, step: WarningStep, local: datetime, on_done: Listener | None = None
    ) -> Announcement:
        utterances = self.utterances(step)
        text = " / ".join(u.text for u in utterances)
        announcement = Announcement(
            step, text, self._clip_path(utterances).name, utterances, queued_wall=self.clock()
        )
        verdict = self.policy.decide(
            step.episode_id,
            (step.camera_id, step.zone_id),
            text,
            step.decided_at,
            local,
            self.clock(),
            step.vehicle_since,
        )
        announcement.volume, announcement.reason = verdict.volume, verdict.reason
        if verdict.refusal is not None or not utterances:
            self._finish(announcement, verdict.refusal or "failed", on_done)
            if not utterances:
                announcement.errors.append("no voice installed for any language")
            return announcement
        self._ensure_worker()
        self._queue.put((-step.warning, -next(self._order), announcement, on_done))
        return announcement

    def speak_test(self, text: str | None = None, timeout: float = 60) -> Announcement:
        """An installer's or the centre's test (`cmd/announce-test`): the words go through
        the real outputs, past the policy, and the result says whether each speaker worked."""
        language = self.spoken_languages[0] if self.spoken_languages else "en"
        words = text or _TEST_WORDS.get(language, _TEST_WORDS["en"])
        utterance = Utterance(words, language, self.voices.get(language) or "", self.config.rate)
        step = WarningStep("speaker-test", "-", "-", 0, 0, 0.0)
        announcement = Announcement(
            step, words, self._clip_path([utterance]).name, [utterance], queued_wall=self.clock()
        )
        self._ensure_worker()
        self._queue.put((-99, -next(self._order), announcement, None))
        announcement.done.wait(timeout)
        return announcement

    def mute(self, seconds: float) -> None:
        self.policy.mute(self.clock() + seconds)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything queued has been played (or dropped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            with self._queue.all_tasks_done:
                self._queue.all_tasks_done.wait(0.2)
        return True

    def close(self, timeout: float = 30) -> None:
        self.drain(timeout)
        self._stopping.set()
        if self._worker is not None:
            self._queue.put((99, 0, None, None))  # type: ignore[arg-type]  # wake the worker
            self._worker.join(timeout)

    def health(self) -> dict[str, Any]:
        return {
            "outputs": [o.name for o in self.outputs],
            "languages": self.spoken_languages,
            "announcements": dict(self.counts),
            "queued": self._queue.qsize(),
            "last_error": self.last_error,
        }

    # -- the worker --------------------------------------------------------------------------
    def _ensure_worker(self) -> None:
        if self._worker is None or not self._worker.is_alive():
            self._worker = threading.Thread(target=self._work, name="announcer", daemon=True)
            self._worker.start()

    def _work(self) -> None:
        while True:
            _, _, announcement, on_done = self._queue.get()
            try:
                if announcement is None:
                    if self._stopping.is_set():
                        return
                    continue
                self._play(announcement, on_done)
            except Exception:  # the worker must outlive any one announcement
                log.exception("announcer: announcement failed")
            finally:
                self._queue.task_done()

    def _play(self, announcement: Announcement, on_done: Listener | None) -> None:
        waited = self.clock() - announcement.queued_wall
        if waited > self.config.max_wait_s:
            announcement.reason = f"waited {waited:.0f} s in the queue"
            self._finish(announcement, "stale", on_done)
            return
        try:
            clip = self._clip_for(announcement.utterances)
            audio = at_volume(read_wav(clip), announcement.volume)
        except Exception as exc:
            announcement.errors.append(f"synthesis: {exc}")
            self._finish(announcement, "failed", on_done)
            return
        label = f"{announcement.step.episode_id[:8]}-w{announcement.step.warning}"
        announcement.audio = audio
        announcement.played_at = datetime.now(UTC).isoformat(timespec="milliseconds")
        for output in self.outputs:
            try:
                output.play(audio, clip, label)
            except PlaybackFailed as exc:
                announcement.errors.append(f"{output.name}: {exc}")
            except Exception as exc:  # a broken output must not take the announcer down
                announcement.errors.append(f"{output.name}: {type(exc).__name__}: {exc}")
        ok = not announcement.errors or len(announcement.errors) < len(self.outputs)
        self._finish(announcement, "played" if ok else "failed", on_done)

    def _finish(self, announcement: Announcement, status: str, on_done: Listener | None) -> None:
        announcement.status = status
        self.counts[status] += 1
        if announcement.errors:
            self.last_error = announcement.errors[-1]
            log.warning("announcer: %s: %s", status, "; ".join(announcement.errors))
        announcement.done.set()
        if on_done is not None:
            on_done(announcement)

    # -- clips -------------------------------------------------------------------------------
    def _clip_path(self, utterances: list[Utterance]) -> Path:
        if len(utterances) == 1:
            return self.cache.path_for(utterances[0])
        key = hashlib.sha256("|".join(u.key for u in utterances).encode()).hexdigest()[:24]
        return self.cache.root / f"mix-{key}.wav"

    def _clip_for(self, utterances: list[Utterance]) -> Path:
        """The clip on disk, rendering what is missing: one file per warning, every language
        in it one after the other."""
        path = self._clip_path(utterances)
        if path.exists():
            return path
        parts: list[Audio] = [read_wav(self.cache.get(u)) for u in utterances]
        if len(parts) > 1:
            write_wav(path, join(parts))
        return path


def default_cache(config: AnnouncerConfig) -> ClipCache:
    from configbase import data_dir

    return ClipCache(config.clip_cache or data_dir() / "clips", Synthesiser())
