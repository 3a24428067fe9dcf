"""Delay from the ladder's decision to the first audio sample written, for a clip rendered
ahead of time versus one synthesised on demand (a new plate). Target: ≤ 300 ms cached.

The WAV output records when each file received its samples; the delay is measured from the
`announce()` call (the ladder's decision) to that moment."""

from __future__ import annotations

import itertools
import time
from datetime import datetime

import pytest

from announcer.clips import ClipCache
from announcer.config import AnnouncerConfig
from announcer.messages import WarningStep
from announcer.outputs import WavFileOutput
from announcer.service import Announcer

NOON = datetime(2026, 11, 24, 12, 0)


@pytest.fixture
def announcer(tmp_path):
    output = WavFileOutput(tmp_path / "played")
    config = AnnouncerConfig(languages=["zh", "en"], zone_cooldown_s=0, max_per_episode=10)
    announcer = Announcer(config, ClipCache(tmp_path / "clips"), [output])
    yield announcer, output
    announcer.close()


def _delay(announcer: Announcer, output: WavFileOutput, step: WarningStep) -> float:
    decided = time.perf_counter()
    announcement = announcer.announce(step, NOON)
    assert announcement.done.wait(30) and announcement.status == "played"
    return output.first_sample_at[-1] - decided


@pytest.mark.parametrize("cached", [True, False], ids=["cached", "on-demand"])
def test_decision_to_first_sample(benchmark, announcer, cached):
    announcer, output = announcer
    rounds = itertools.count()
    known = "京A6K327"
    if cached:
        announcer.prepare([WarningStep("prepare", "gate", "School gate", 2, 180, 0, known)])
    delays: list[float] = []

    def one() -> None:
        n = next(rounds)  # a new episode each time; a new plate (never heard) on demand
        plate = known if cached else f"京A{n:05d}"
        step = WarningStep(f"bench-{n}", "gate", "School gate", 2, 180, float(n), plate)
        delays.append(_delay(announcer, output, step))

    benchmark.pedantic(one, rounds=15, iterations=1, warmup_rounds=1)
    delays.sort()
    benchmark.extra_info.update(
        median_ms=round(1000 * delays[len(delays) // 2], 1), max_ms=round(1000 * delays[-1], 1)
    )
    print(
        f"\n{'cached' if cached else 'on demand'}: median {1000 * delays[len(delays) // 2]:.1f} ms"
    )
