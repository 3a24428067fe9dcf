"""`roadguard demo`, as `make demo` runs it: the whole node (scene source, motion gate,
detector, tracker, episodes, evidence, JSON-lines log) on the embedded demo config."""

from __future__ import annotations

import json
from collections import defaultdict

import pytest

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
    # Evidence at each warning and at the violation: full frame and crop, all on disk.
    assert len(violation["evidence"]) == 6
    for relative in violation["evidence"]:
        assert (tmp_path / "evidence" / relative).stat().st_size > 1000
    assert "Violations: 1  Dissuaded: 1" in capsys.readouterr().out
