"""The clip cache: every warning is rendered ahead of time, so the speaker starts at once.

Clips are keyed by what makes them sound different (text, voice, rate): a key is known before
the clip exists, so a warning can name its clip in the episode while a worker renders it.
"""

from __future__ import annotations

import hashlib
import io
import threading
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from announcer.speech import Synthesiser


@dataclass(frozen=True)
class Utterance:
    text: str
    language: str
    voice: str
    rate: int

    @property
    def key(self) -> str:
        raw = f"{self.text}\0{self.voice}\0{self.rate}".encode()
        return hashlib.sha256(raw).hexdigest()[:24]


@dataclass(frozen=True)
class Audio:
    samples: np.ndarray  # int16, mono
    rate: int

    @property
    def seconds(self) -> float:
        return len(self.samples) / self.rate

    def rms(self) -> float:
        return float(np.sqrt(np.mean(self.samples.astype(np.float64) ** 2))) if len(self) else 0.0

    def __len__(self) -> int:
        return len(self.samples)


def read_wav(path: Path) -> Audio:
    with wave.open(str(path), "rb") as reader:
        if reader.getsampwidth() != 2:
            raise ValueError(f"{path}: only 16-bit PCM clips are supported")
        frames = reader.readframes(reader.getnframes())
        samples = np.frombuffer(frames, np.int16)
        if reader.getnchannels() > 1:
            samples = samples.reshape(-1, reader.getnchannels()).mean(axis=1).astype(np.int16)
        return Audio(samples, reader.getframerate())


def write_wav(path: Path, audio: Audio) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.part")
    partial.write_bytes(wav_bytes(audio))
    partial.replace(path)


def wav_bytes(audio: Audio) -> bytes:
    """The clip as a 16-bit mono WAV file's bytes."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(audio.rate)
        writer.writeframes(audio.samples.astype(np.int16).tobytes())
    return buffer.getvalue()


def join(parts: list[Audio], gap_s: float = 0.4) -> Audio:
    """One clip from several (one per language), with a short pause between them."""
    rate = parts[0].rate
    if any(p.rate != rate for p in parts):
        raise ValueError("clips to join must share a sample rate")
    silence = np.zeros(int(gap_s * rate), np.int16)
    pieces: list[np.ndarray] = []
    for i, part in enumerate(parts):
        if i:
            pieces.append(silence)
        pieces.append(part.samples)
    return Audio(np.concatenate(pieces), rate)


def at_volume(audio: Audio, volume: float) -> Audio:
    if volume >= 1:
        return audio
    return Audio((audio.samples.astype(np.float32) * volume).astype(np.int16), audio.rate)


class ClipCache:
    """WAV clips on disk under `root`, rendered once and reused."""

    def __init__(self, root: Path, synthesiser: Synthesiser | None = None) -> None:
        self.root = root
        self.synthesiser = synthesiser or Synthesiser()
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.rendered = 0  # clips synthesised by this process (cache misses)

    def path_for(self, utterance: Utterance) -> Path:
        return self.root / f"{utterance.language}-{utterance.key}.wav"

    def has(self, utterance: Utterance) -> bool:
        return self.path_for(utterance).exists()

    def get(self, utterance: Utterance) -> Path:
        """The clip's path, synthesising it first if it is not cached yet."""
        path = self.path_for(utterance)
        if path.exists():
            return path
        with self._guard:
            lock = self._locks.setdefault(utterance.key, threading.Lock())
        with lock:
            if not path.exists():
                self.synthesiser.render(utterance.text, utterance.voice, utterance.rate, path)
                self.rendered += 1
        return path
