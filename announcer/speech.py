"""Speech synthesis with pyttsx3 (espeak-ng on Linux), into WAV files.

pyttsx3 has sharp edges that shape this module: one engine per process, only one
`save_to_file` per `runAndWait` (a second one silently replaces the first), and an unknown
voice id is ignored without a word — so voices are resolved against the installed list up
front and every synthesis runs alone under a lock.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import io
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

log = logging.getLogger(__name__)

# espeak-ng renders a sentence in tens of milliseconds; seconds without a result mean the
# request was dropped, not that it is slow.
_FINISH_TIMEOUT_S = 3.0


class SpeechUnavailable(RuntimeError):
    """No speech engine: pyttsx3 or espeak-ng is not installed."""


class Synthesiser:
    """Renders text with a given voice and rate into a WAV file.

    pyttsx3 and the espeak-ng library under it are not thread-safe (driving one engine from
    two threads crashed the process in our tests), so the engine lives on one thread of its
    own and every call is handed to it."""

    def __init__(self) -> None:
        self._thread = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="speech")
        self._engine = None
        self._finished = threading.Event()

    def _get_engine(self):  # noqa: ANN202 - pyttsx3.Engine has no type hints
        if self._engine is None:
            try:
                import pyttsx3

                self._engine = pyttsx3.init()
            except Exception as exc:  # ImportError, or espeak-ng's library missing
                raise SpeechUnavailable(
                    f"speech engine unavailable ({exc}); install espeak-ng "
                    "(apt-get install espeak-ng) and the 'edge' extra"
                ) from exc
            self._engine.connect("finished-utterance", lambda **_: self._finished.set())
        return self._engine

    def voice_ids(self) -> set[str]:
        return self._thread.submit(self._voice_ids).result()

    def render(self, text: str, voice: str, rate: int, path: Path) -> None:
        """Write `text` spoken by `voice` to `path` (atomically: a half-written clip is never
        played)."""
        self._thread.submit(self._render, text, voice, rate, path).result()

    def _voice_ids(self) -> set[str]:
        return {voice.id for voice in self._get_engine().getProperty("voices")}

    def _render(self, text: str, voice: str, rate: int, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.part")
        # pyttsx3 2.99's espeak driver runs espeak-ng asynchronously: `runAndWait` can return
        # before the WAV is written (on espeak's own thread), and then the next request would
        # overwrite the file name it writes to. So each render waits for the driver's
        # "finished-utterance", and one that never comes (it happens to the first request
        # after start-up) is retried.
        for _attempt in range(3):
            self._finished.clear()
            with contextlib.redirect_stdout(io.StringIO()):  # it prints a line per file
                engine = self._get_engine()
                engine.setProperty("voice", voice)
                engine.setProperty("rate", rate)
                engine.save_to_file(text, str(partial))
                engine.runAndWait()
                finished = self._finished.wait(_FINISH_TIMEOUT_S)
            if finished and partial.exists() and partial.stat().st_size > 44:  # > a header
                partial.replace(path)
                return
            partial.unlink(missing_ok=True)
        raise RuntimeError(f"speech engine wrote no audio for voice {voice!r}: {text!r}")


def resolve_voices(
    wanted: dict[str, Sequence[str]], available: set[str], languages: Sequence[str]
) -> dict[str, str | None]:
    """The installed voice for each language (first preference that exists), or None."""
    return {
        language: next((v for v in wanted.get(language, ()) if v in available), None)
        for language in languages
    }


def fallback_plan(configured: Sequence[str], voices: dict[str, str | None]) -> list[str]:
    """The languages actually spoken, in order, for the configured ones.

    A missing voice must not make the speaker go silent: that language is replaced by another
    one that has a voice (a configured one first), and the operator is told at start-up."""
    usable = [lang for lang in configured if voices.get(lang)] or [
        lang for lang, voice in voices.items() if voice
    ]
    spoken: list[str] = []
    for language in configured:
        chosen = language if voices.get(language) else (usable[0] if usable else None)
        if chosen is None:
            log.error("announcer: no voice for %r and no other language to fall back to", language)
            continue
        if chosen != language:
            log.warning(
                "announcer: no voice installed for %r (tried %s); speaking %r instead. "
                "Install espeak-ng or fix `announcer.voices`.",
                language,
                "none configured" if language not in voices else "the configured voices",
                chosen,
            )
        if chosen not in spoken:
            spoken.append(chosen)
    return spoken
