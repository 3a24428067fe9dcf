"""The announcer: real pyttsx3/espeak-ng speech checked as audio, the clip cache, the rules
that keep a speaker civil (fake clocks), the queue, and each kind of output."""

from __future__ import annotations

import http.server
import logging
import threading
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from pydantic import ValidationError

from announcer.clips import Audio, ClipCache, Utterance, read_wav
from announcer.config import (
    AnnouncerConfig,
    CommandOutput,
    HttpOutput,
    MessageTemplates,
    QuietHours,
)
from announcer.messages import WarningStep, compose, spoken_time_left
from announcer.outputs import CommandSpeaker, HttpSpeaker, PlaybackFailed, WavFileOutput
from announcer.service import Announcer
from announcer.speech import Synthesiser

NOON = datetime(2026, 11, 24, 12, 0)
NIGHT = datetime(2026, 11, 24, 23, 30)
ZONES = {"gate": {"names": {"zh": "学校门口", "en": "the school gate"}}}


@pytest.fixture(scope="module")
def synthesiser() -> Synthesiser:
    return Synthesiser()


class FakeClock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def step(episode: str = "ep-1", warning: int = 1, at: float = 100.0, **more) -> WarningStep:
    return WarningStep(episode, "gate", "School gate", warning, 300, at, **more)


def make(tmp_path, synthesiser, outputs=None, clock=None, **config) -> tuple[Announcer, list]:
    config.setdefault("zones", ZONES)
    sink = WavFileOutput(tmp_path / "played")
    announcer = Announcer(
        AnnouncerConfig(**config),
        ClipCache(tmp_path / "clips", synthesiser),
        outputs if outputs is not None else [sink],
        clock=clock or FakeClock(),
    )
    return announcer, sink.written


def assert_speech(audio: Audio, min_s: float, max_s: float) -> None:
    assert audio.rate == 22050
    assert min_s <= audio.seconds <= max_s, audio.seconds
    assert audio.rms() > 500  # not silence
    # Speech has pauses: quiet and loud 50 ms windows, not one constant tone.
    window = audio.rate // 20
    frames = audio.samples[: len(audio.samples) // window * window].reshape(-1, window)
    levels = np.sqrt(np.mean(frames.astype(np.float64) ** 2, axis=1))
    assert (levels < 100).sum() >= 2 and (levels > 1000).sum() >= 10


# -- speech --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("language", "voice", "text"),
    [
        ("zh", "sit/cmn-latn-pinyin", "您好，学校门口禁止停车，请于3分钟内驶离，谢谢配合。"),
        ("en", "gmw/en-us", "Hello. No parking at the school gate. Please move within 3 minutes."),
    ],
)
def test_a_warning_is_synthesised_as_real_speech(tmp_path, synthesiser, language, voice, text):
    assert voice in synthesiser.voice_ids()
    path = tmp_path / f"{language}.wav"
    synthesiser.render(text, voice, 150, path)
    assert_speech(read_wav(path), 2.0, 12.0)


def test_mandarin_is_read_as_mandarin_not_spelled_out(tmp_path, synthesiser):
    """espeak-ng's plain `sit/cmn` spells each character's name; the pinyin voice reads the
    sentence. Reading is much shorter than spelling, which is what a driver needs."""
    text = "此处禁止停车"
    synthesiser.render(text, "sit/cmn-latn-pinyin", 150, tmp_path / "read.wav")
    seconds = read_wav(tmp_path / "read.wav").seconds
    assert 0.8 <= seconds <= 3.5


def test_clips_are_rendered_once_and_reused(tmp_path, synthesiser):
    cache = ClipCache(tmp_path, synthesiser)
    utterance = Utterance("No parking here.", "en", "gmw/en-us", 150)
    first = cache.get(utterance)
    modified = first.stat().st_mtime_ns
    assert cache.get(utterance) == first and cache.rendered == 1
    assert first.stat().st_mtime_ns == modified
    faster = Utterance("No parking here.", "en", "gmw/en-us", 220)
    assert cache.path_for(faster) != first
    assert read_wav(cache.get(faster)).seconds < read_wav(first).seconds


def test_start_up_prepares_every_clip_so_a_warning_needs_no_synthesis(tmp_path, synthesiser):
    announcer, played = make(tmp_path, synthesiser, languages=["zh", "en"])
    assert announcer.prepare([step(warning=1), step(warning=2)]) == 4  # 2 steps x 2 languages
    rendered = announcer.cache.rendered
    done = announcer.announce(step(), NOON)
    assert done.done.wait(10) and done.status == "played"
    assert announcer.cache.rendered == rendered
    joined = read_wav(played[0])
    zh_only = read_wav(announcer.cache.get(done.utterances[0]))
    assert joined.seconds > zh_only.seconds + 1  # Mandarin, then English


def test_missing_voice_falls_back_to_the_other_language(tmp_path, synthesiser, caplog):
    with caplog.at_level(logging.WARNING, logger="announcer.speech"):
        announcer, played = make(
            tmp_path, synthesiser, languages=["zh"], voices={"zh": ["no/such-voice"]}
        )
    assert announcer.spoken_languages == ["en"]
    assert "no voice installed for 'zh'" in caplog.text
    done = announcer.announce(step(), NOON)
    assert done.done.wait(10) and done.status == "played"
    assert "school gate" in done.text
    assert_speech(read_wav(played[0]), 2.0, 15.0)


# -- words ---------------------------------------------------------------------------------
def test_templates_fill_zone_minutes_and_plate():
    config = AnnouncerConfig(languages=["zh", "en"], zones=ZONES)
    assert compose(config, step(), "zh") == "您好，学校门口禁止停车，请于5分钟内驶离，谢谢配合。"
    plate = step(warning=2, plate="京A6K327")
    assert compose(config, plate, "zh").startswith("京A6K327车主请注意，学校门口")
    assert "Vehicle 京A6K327" in compose(config, plate, "en")
    assert "within 45 seconds." in compose(config, WarningStep("e", "gate", "G", 1, 45, 0), "en")
    assert "{" not in compose(config, step(warning=2), "en")  # no plate: plain warning 2


@pytest.mark.parametrize(
    ("seconds", "zh", "en"),
    [
        (16, "15秒", "15 seconds"),  # the demo ladder: 8 s + 8 s
        (7.9, "7秒", "7 seconds"),
        (0.4, "1秒", "1 second"),
        (59, "55秒", "55 seconds"),
        (60, "1分钟", "1 minute"),
        (150, "2分钟", "2 minutes"),
        (300, "5分钟", "5 minutes"),
    ],
)
def test_the_time_left_is_never_more_than_the_driver_has(seconds, zh, en):
    assert spoken_time_left(seconds, "zh") == zh
    assert spoken_time_left(seconds, "en") == en


def test_the_demo_ladder_tells_the_driver_seconds_not_a_minute():
    config = AnnouncerConfig(languages=["zh", "en"], zones=ZONES)
    words = compose(config, WarningStep("e", "gate", "G", 1, 16, 0), "zh")
    assert words == "您好，学校门口禁止停车，请于15秒内驶离，谢谢配合。"


def test_bad_templates_are_config_errors():
    with pytest.raises(ValidationError, match="unknown placeholder"):
        MessageTemplates(warning1="Move within {minuets}", warning2="Now")
    with pytest.raises(ValidationError, match="warning2_plate"):
        MessageTemplates(warning1="{plate}, move", warning2="Now")
    with pytest.raises(ValidationError, match="no templates for language 'en'"):
        AnnouncerConfig(
            languages=["en"], templates={"zh": MessageTemplates(warning1="a", warning2="b")}
        )


# -- policy, on fake clocks ----------------------------------------------------------------
def test_quiet_hours_turn_the_speaker_down(tmp_path, synthesiser):
    quiet = QuietHours(start="22:00", end="07:00", mode="quieter", volume=0.25)
    announcer, played = make(tmp_path, synthesiser, languages=["en"], quiet_hours=quiet)
    day = announcer.announce(step("day"), NOON)
    assert announcer.drain(10)
    night = announcer.announce(step("night", at=200), NIGHT)
    assert announcer.drain(10)
    assert (day.status, night.status, night.volume) == ("played", "played", 0.25)
    loud, soft = read_wav(played[0]), read_wav(played[1])
    assert soft.rms() == pytest.approx(loud.rms() * 0.25, rel=0.05)


def test_quiet_hours_text_only_plays_nothing(tmp_path, synthesiser):
    quiet = QuietHours(start="22:00", end="07:00", mode="text_only")
    announcer, played = make(tmp_path, synthesiser, languages=["en"], quiet_hours=quiet)
    night = announcer.announce(step(), NIGHT)
    assert night.status == "text_only" and "No parking" in night.text
    early = announcer.announce(step("early", at=300), datetime(2026, 11, 25, 7, 0))
    assert announcer.drain(10) and early.status == "played"
    assert len(played) == 1


def test_zone_cooldown_covers_only_drivers_who_heard_it(tmp_path, synthesiser):
    announcer, played = make(tmp_path, synthesiser, languages=["en"], zone_cooldown_s=30)
    first = announcer.announce(step("a", at=100, vehicle_since=50), NOON)
    heard = announcer.announce(step("b", at=110, vehicle_since=90), NOON)  # was there at 100
    arrived_later = announcer.announce(step("c", at=120, vehicle_since=105), NOON)
    after_cooldown = announcer.announce(step("d", at=151, vehicle_since=50), NOON)  # 120 + 30
    assert announcer.drain(10)
    assert [first.status, heard.status, arrived_later.status, after_cooldown.status] == [
        "played",
        "covered",
        "played",
        "played",
    ]
    assert len(played) == 3


def test_a_zone_of_the_same_name_on_another_camera_has_its_own_cooldown(tmp_path, synthesiser):
    """Two cameras, each with a zone called `gate`, each with its own speaker's listeners:
    the words played at one gate were not heard at the other."""
    announcer, played = make(tmp_path, synthesiser, languages=["en"], zone_cooldown_s=30)
    north = announcer.announce(step("a", at=100, vehicle_since=50, camera_id="north"), NOON)
    south = announcer.announce(step("b", at=101, vehicle_since=50, camera_id="south"), NOON)
    again = announcer.announce(step("c", at=102, vehicle_since=50, camera_id="south"), NOON)
    assert announcer.drain(10)
    assert [north.status, south.status, again.status] == ["played", "played", "covered"]
    assert len(played) == 2


def test_repeats_per_episode_are_capped_and_mute_holds_until_its_time(tmp_path, synthesiser):
    clock = FakeClock()
    announcer, played = make(
        tmp_path, synthesiser, clock=clock, languages=["en"], max_per_episode=2
    )
    statuses = [announcer.announce(step(warning=n, at=100 * n), NOON) for n in (1, 2, 2)]
    assert announcer.drain(10)
    announcer.mute(600)
    clock.now += 599
    muted = announcer.announce(step("other", at=500), NOON)
    clock.now += 2
    unmuted = announcer.announce(step("other", at=501), NOON)
    assert announcer.drain(10)
    assert [a.status for a in statuses] == ["played", "played", "limit"]
    assert (muted.status, unmuted.status) == ("muted", "played")


# -- queue and outputs ---------------------------------------------------------------------
class GatedOutput:
    """An output that holds its first clip until released: a speaker busy playing."""

    name = "gated"

    def __init__(self) -> None:
        self.release, self.started = threading.Event(), threading.Event()
        self.order: list[str] = []

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        self.started.set()
        assert self.release.wait(10)
        self.order.append(label)


def test_one_at_a_time_and_the_newest_escalation_first(tmp_path, synthesiser):
    gate = GatedOutput()
    announcer, _ = make(tmp_path, synthesiser, outputs=[gate], languages=["en"])
    announcer.prepare([step(warning=1), step(warning=2)])
    first = announcer.announce(step("aaaaaaaa", warning=1, at=10), NOON)
    assert gate.started.wait(10)  # playing; everything else must wait its turn
    announcer.announce(step("bbbbbbbb", warning=1, at=11, vehicle_since=10.5), NOON)
    announcer.announce(step("cccccccc", warning=2, at=12), NOON)
    announcer.announce(step("dddddddd", warning=1, at=13, vehicle_since=12.5), NOON)
    assert first.status == "queued"  # announce() never waited for the speaker
    gate.release.set()
    assert announcer.drain(10)
    assert gate.order == ["aaaaaaaa-w1", "cccccccc-w2", "dddddddd-w1", "bbbbbbbb-w1"]


class BrokenSpeaker:
    name = "broken"

    def play(self, audio: Audio, clip: Path, label: str) -> None:
        raise PlaybackFailed("amplifier does not answer")


def test_a_failed_speaker_is_reported_and_the_next_warning_still_plays(tmp_path, synthesiser):
    sink = WavFileOutput(tmp_path / "ok")
    announcer, _ = make(tmp_path, synthesiser, outputs=[BrokenSpeaker()], languages=["en"])
    failed = announcer.announce(step("a"), NOON)
    assert announcer.drain(10)
    assert failed.status == "failed" and "amplifier does not answer" in failed.errors[0]
    assert announcer.health()["last_error"] == "broken: amplifier does not answer"
    announcer.outputs = [BrokenSpeaker(), sink]  # one speaker of two still works
    partly = announcer.announce(step("b", at=200), NOON)
    assert announcer.drain(10)
    assert partly.status == "played" and len(partly.errors) == 1 and len(sink.written) == 1
    assert announcer.health()["announcements"] == {"failed": 1, "played": 1}


def test_http_speaker_receives_the_wav(tmp_path, synthesiser):
    received: list[tuple[str, bytes]] = []

    class Speaker(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], body))
            self.send_response(500 if self.path == "/broken" else 204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Speaker)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        clip = tmp_path / "clip.wav"
        synthesiser.render("Test.", "gmw/en-us", 150, clip)
        audio = read_wav(clip)
        HttpSpeaker(HttpOutput(url=f"{url}/play")).play(audio, clip, "test")
        assert received[0] == ("audio/wav", clip.read_bytes())
        with pytest.raises(PlaybackFailed, match="answered 500"):
            HttpSpeaker(HttpOutput(url=f"{url}/broken")).play(audio, clip, "test")
    finally:
        server.shutdown()
    with pytest.raises(PlaybackFailed, match="unreachable"):
        HttpSpeaker(HttpOutput(url=url, timeout_s=2)).play(audio, clip, "test")


def test_command_speaker_runs_the_sites_command(tmp_path, synthesiser):
    clip = tmp_path / "clip.wav"
    synthesiser.render("Test.", "gmw/en-us", 150, clip)
    copy = tmp_path / "speaker-got.wav"
    CommandSpeaker(CommandOutput(command=["cp", "{wav}", str(copy)])).play(
        read_wav(clip), clip, "t"
    )
    assert copy.read_bytes() == clip.read_bytes()
    with pytest.raises(PlaybackFailed, match="exited 1"):
        CommandSpeaker(CommandOutput(command=["false"])).play(read_wav(clip), clip, "t")


def test_announce_command_writes_a_wav(tmp_path):
    from roadguard.cli import main

    out = tmp_path / "test.wav"
    assert main(["announce", "您好，此处禁止停车", "--lang", "zh", "--out", str(out)]) == 0
    assert_speech(read_wav(out), 1.0, 8.0)
