"""Where an announcement is heard: the box's sound card, a WAV file, an IP speaker, or any
command. Each output plays one clip to the end and says whether it worked; a failing speaker
raises `PlaybackFailed` with the reason, and the announcer carries on."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Protocol

from announcer.clips import Audio, write_wav
from announcer.config import CommandOutput, DeviceOutput, HttpOutput, Output, WavOutput


class PlaybackFailed(RuntimeError):
    pass


class AudioOutput(Protocol):
    name: str

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        """Play `audio` (already at the right volume; `clip` is the same sound on disk)."""
        ...


class WavFileOutput:
    """Numbered WAV files, in the order they were played: what the demo and tests listen to."""

    def __init__(self, folder: Path) -> None:
        self.name = f"wav:{folder}"
        self.folder = folder
        self.written: list[Path] = []
        self.first_sample_at: list[float] = []  # perf_counter when each file got its audio
        self._lock = threading.Lock()

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        with self._lock:
            path = self.folder / f"{len(self.written) + 1:04d}-{label}.wav"
            try:
                write_wav(path, audio)
            except OSError as exc:
                raise PlaybackFailed(f"cannot write {path}: {exc}") from exc
            self.first_sample_at.append(time.perf_counter())
            self.written.append(path)


class DevicePlayer:
    """The local sound card through `aplay` (ALSA) or `paplay` (PulseAudio)."""

    def __init__(self, config: DeviceOutput) -> None:
        self.name = f"device:{config.player}"
        self.config = config

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        player = shutil.which(self.config.player)
        if player is None:
            raise PlaybackFailed(
                f"{self.config.player} is not installed (apt-get install "
                f"{'alsa-utils' if self.config.player == 'aplay' else 'pulseaudio-utils'})"
            )
        argv = [player]
        if self.config.device:
            argv += (
                ["-D", self.config.device]
                if self.config.player == "aplay"
                else [f"--device={self.config.device}"]
            )
        argv.append(str(clip))
        _run(argv, timeout=audio.seconds + 10)


class HttpSpeaker:
    """An IP speaker: the WAV is POSTed as `audio/wav`; any 2xx means it is playing."""

    def __init__(self, config: HttpOutput) -> None:
        self.name = f"http:{config.url}"
        self.config = config

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        request = urllib.request.Request(
            self.config.url,
            data=clip.read_bytes(),
            method="POST",
            headers={
                "Content-Type": "audio/wav",
                "X-RoadGuard-Label": label,
                **self.config.headers,
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.config.timeout_s) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            raise PlaybackFailed(f"speaker {self.config.url} answered {exc.code}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise PlaybackFailed(f"speaker {self.config.url} unreachable: {exc}") from exc
        if not 200 <= status < 300:
            raise PlaybackFailed(f"speaker {self.config.url} answered {status}")


class CommandSpeaker:
    """Whatever a site's speaker needs, as a command line with `{wav}` for the clip."""

    def __init__(self, config: CommandOutput) -> None:
        self.name = f"command:{config.command[0]}"
        self.config = config

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        argv = [part.replace("{wav}", str(clip)) for part in self.config.command]
        _run(argv, timeout=self.config.timeout_s)


def _run(argv: list[str], timeout: float) -> None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise PlaybackFailed(f"{argv[0]}: not found") from exc
    except subprocess.TimeoutExpired as exc:
        raise PlaybackFailed(f"{argv[0]} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        raise PlaybackFailed(
            f"{argv[0]} exited {done.returncode}: {detail[-1] if detail else 'no output'}"
        )


def build_output(config: Output) -> AudioOutput:
    if isinstance(config, WavOutput):
        return WavFileOutput(config.dir)
    if isinstance(config, DeviceOutput):
        return DevicePlayer(config)
    if isinstance(config, HttpOutput):
        return HttpSpeaker(config)
    return CommandSpeaker(config)
