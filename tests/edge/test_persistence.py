"""A node killed mid-episode (SIGKILL, no chance to save anything more) and started again
carries on with the same episode: no second 'stopped', no second warning 1."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def node(tmp_path: Path, *args: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "tests.edge.restart_child", str(tmp_path / "state.db")]
    command += [str(tmp_path / "evidence"), *args]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)


def read_until(process: subprocess.Popen, event: str) -> list[dict]:
    records = []
    for line in process.stdout:
        records.append(json.loads(line))
        if records[-1]["event"] == event:
            return records
    raise AssertionError(f"the node ended without {event!r}: {records}")


def test_killed_mid_episode_resumes_without_a_second_first_warning(tmp_path):
    # Ladder of the test site: grace 4 s, repeat 4 s, final 4 s; 5 frames a second.
    first = node(tmp_path, "--frames", "0", "200", "--hang-after", "warned")
    before = read_until(first, "warned")
    first.kill()  # SIGKILL right after warning 1
    first.wait(10)
    assert [r["event"] for r in before] == ["stopped", "warned"]
    episode_id = before[-1]["episode_id"]

    # Power back 30 s later (frame 150 = 30 s after the start); the car is still there.
    second = node(tmp_path, "--frames", "150", "250")
    after = read_until(second, "exit")[:-1]
    second.wait(10)
    assert [r["event"] for r in after] == ["warned", "violation"]
    assert {r["episode_id"] for r in after} == {episode_id}
    assert after[0]["warning"] == 2 and after[0]["stopped_at"] == before[0]["stopped_at"]
    assert [w["n"] for w in after[-1]["warnings"]] == [1, 2]
    assert len(after[-1]["evidence"]) == 6  # warning 1's pictures from before the kill too


def test_a_car_gone_during_the_outage_ends_its_episode_as_dissuaded(tmp_path):
    first = node(tmp_path, "--frames", "0", "200", "--hang-after", "warned")
    episode_id = read_until(first, "warned")[-1]["episode_id"]
    first.kill()
    first.wait(10)
    second = node(tmp_path, "--frames", "150", "300", "--car-until", "150")
    after = read_until(second, "exit")[:-1]
    second.wait(10)
    assert [(r["event"], r["episode_id"]) for r in after] == [("dissuaded", episode_id)]
