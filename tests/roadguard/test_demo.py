"""`roadguard demo`, as `make demo` runs it: the whole node (scene source, motion gate,
detector, tracker, episodes, evidence, JSON-lines log) on the embedded demo config."""

from __future__ import annotations

import json
import sqlite3
from collections import defaultdict

import pytest

from announcer.clips import read_wav
from roadguard.cli import main


@pytest.mark.needs_model
def test_demo_logs_one_violation_and_one_dissuaded_driver(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0

    records = [json.loads(line) for line in (tmp_path / "episodes.jsonl").read_text().splitlines()]
    chains: dict[str, list[dict]] = defaultdict(list)
    for record in records:
        chains[record["episode_id"]].append(record)
    events = sorted(([r["event"] for r in steps] for steps in chains.values()), key=len)
    assert events == [
        ["stopped", "warned", "dissuaded"],
        ["stopped", "warned", "warned", "violation"],
    ]
    violation = next(steps[-1] for steps in chains.values() if steps[-1]["event"] == "violation")
    # Evidence at each warning and at the violation: full frame and crop, all on disk; and
    # each warning's clip as the speaker played it.
    pictures = [r for r in violation["evidence"] if r.endswith(".jpg")]
    voices = sorted(r for r in violation["evidence"] if r.endswith(".wav"))
    assert len(pictures) == 6 and len(violation["evidence"]) == 8
    for relative in violation["evidence"]:
        assert (tmp_path / "evidence" / relative).stat().st_size > 1000
    episode = violation["episode_id"]
    assert voices == [f"{episode}/warning1-voice.wav", f"{episode}/warning2-voice.wav"]
    assert [w["announcement"]["clip_evidence"] for w in violation["warnings"]] == voices
    assert "Violations: 1  Dissuaded: 1" in capsys.readouterr().out

    # Each warning of the ladder was spoken, in order, and warning 2 named the plate the
    # scene gives the parked car.
    by_event = {(r["episode_id"][:8], r.get("warning")): r for r in records}
    parked = violation["episode_id"][:8]
    left = next(e for e, _ in by_event if e != parked)
    wavs = sorted((tmp_path / "announcements").glob("*.wav"))
    assert [w.name[5:] for w in wavs] == [f"{parked}-w1.wav", f"{parked}-w2.wav", f"{left}-w1.wav"]
    for wav in wavs:
        audio = read_wav(wav)
        assert audio.rate == 22050 and 3 < audio.seconds < 30 and audio.rms() > 500
    for n, voice in enumerate(voices, 1):  # the evidence is what the speaker was given
        played_clip = (
            tmp_path
            / "announcements"
            / next(w.name for w in wavs if w.name.endswith(f"{parked}-w{n}.wav"))
        )
        assert (tmp_path / "evidence" / voice).read_bytes() == played_clip.read_bytes()
    # ... and the centre holds both clips, as audio, beside the pictures.
    centre = sqlite3.connect(tmp_path / "central.db")
    kinds = dict(
        centre.execute("select name, content_type from evidence where episode_id = ?", (episode,))
    )
    centre.close()
    assert kinds["warning1-voice.wav"] == kinds["warning2-voice.wav"] == "audio/wav"
    assert sum(kind == "image/jpeg" for kind in kinds.values()) == 6
    played = [w["announcement"] for w in violation["warnings"]]
    assert [a["status"] for a in played] == ["played", "played"]
    assert "京A6K327" in played[1]["text"] and "京A6K327" not in played[0]["text"]
    assert "学校门口" in played[0]["text"] and "school gate" in played[0]["text"]
