"""What the simulated fleet publishes: episode scripts (how episodes end, in what mix, at
what times), the fleet's node names and the readiness probe's record."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime

from mqtt.payloads import (
    AnnouncementRecord,
    EpisodeRecord,
    Transition,
    WarningRecord,
    new_id,
)
from mqtt.testing import numbered_record

NODE_PREFIX = "fleet-"
PROBE_NODE = "probe-node"  # readiness probes; never counted in a run

# The warning ladder's defaults (design.md): grace, repeat, final, in camera seconds.
GRACE_S, REPEAT_S, FINAL_S = 60.0, 120.0, 180.0
# How episodes end, with the share of each and the warnings given before the end.
OUTCOME_MIX: tuple[tuple[str, float, int], ...] = (
    ("cleared", 0.30, 0),  # left within the grace period: stopped -> cleared
    ("dissuaded", 0.25, 1),  # left after the first warning
    ("dissuaded", 0.15, 2),  # left after the second warning
    ("violation", 0.30, 2),  # stayed: stopped -> warned -> warned -> violation
)
MESSAGES_PER_EPISODE = sum(share * (2 + warnings) for _, share, warnings in OUTCOME_MIX)
FINAL_STATE = {"cleared": "cleared", "dissuaded": "dissuaded", "violation": "pending_review"}
PLATE_PROVINCES = "京沪粤浙苏川鄂湘"


class FleetError(AssertionError):
    """The load test saw a loss, a double count, or a part that would not start."""


# -- episode streams --------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    offset_s: float  # camera seconds after the vehicle stopped
    event: str
    warning: int | None = None


@dataclass
class EpisodeScript:
    """One vehicle in one zone, from `stopped` to its end, as the edge would report it."""

    node: int
    camera_id: str
    episode_id: str
    outcome: str
    warnings: int
    start_wall: float  # seconds after the run starts
    compression: float  # camera seconds per wall second
    camera_t0: float  # camera clock at `stopped`
    steps: list[Step]
    plate: str | None
    zone: tuple[str, str]
    box: list[float]

    @property
    def final_event(self) -> str:
        return self.steps[-1].event

    def due(self, index: int) -> float:
        """Wall seconds after the run starts when step `index` is published."""
        return self.start_wall + self.steps[index].offset_s / self.compression

    def record(self, index: int, now: datetime, node_id: str) -> EpisodeRecord:
        """The full snapshot after step `index`, as the edge would make it."""
        step = self.steps[index]
        t = round(self.camera_t0 + step.offset_s, 3)
        given = [s for s in self.steps[: index + 1] if s.event == "warned"]
        warnings = [
            WarningRecord(
                n=s.warning,
                at=round(self.camera_t0 + s.offset_s, 3),
                evidence=[f"{self.episode_id}/warning{s.warning}-frame.jpg"],
                announcement=AnnouncementRecord(
                    clip=f"warning{s.warning}.wav", text=f"warning {s.warning}", status="played"
                ),
            )
            for s in given
        ]
        ended = step.event in ("cleared", "dissuaded")
        evidence = [ref for w in warnings for ref in w.evidence]
        if step.event == "violation":
            evidence.append(f"{self.episode_id}/violation-frame.jpg")
        jitter = 0.4 * index
        return EpisodeRecord(
            node_id=node_id,
            camera_id=self.camera_id,
            event=Transition(step.event),
            time=t,
            occurred_at=now,
            warning=step.warning,
            episode_id=self.episode_id,
            zone_id=self.zone[0],
            zone_name=self.zone[1],
            vehicle_class="car",
            box=[self.box[0] + jitter, self.box[1], self.box[2] + jitter, self.box[3]],
            anchor=list(self.box),
            stopped_at=round(self.camera_t0, 3),
            warnings=warnings,
            violation_at=t if step.event == "violation" else None,
            ended_at=t if ended else None,
            outcome=step.event if step.event in FINAL_STATE else None,
            track_ids=[int(self.camera_t0) % 10_000 + index // 2],
            plate=self.plate if len(given) >= 2 else None,  # read for the second warning
            evidence=evidence,
        )


def _steps(rng: random.Random, outcome: str, warnings: int) -> list[Step]:
    steps = [Step(0.0, "stopped")]
    if warnings == 0:
        return [*steps, Step(rng.uniform(10, GRACE_S - 5), "cleared")]
    steps.append(Step(GRACE_S, "warned", 1))
    if warnings == 2:
        steps.append(Step(GRACE_S + REPEAT_S, "warned", 2))
    if outcome == "violation":
        return [*steps, Step(GRACE_S + REPEAT_S + FINAL_S, "violation")]
    window = REPEAT_S if warnings == 1 else FINAL_S
    return [*steps, Step(steps[-1].offset_s + rng.uniform(10, window - 10), "dissuaded")]


def episode_scripts(
    nodes: int,
    episodes_per_node: int,
    offered_msgs_per_s: float,
    *,
    compression: float = 300.0,
    seed: int = 7,
) -> list[EpisodeScript]:
    """Episodes for `nodes` nodes (two cameras each), starting at uniform random times over
    the span that makes the whole fleet offer `offered_msgs_per_s` on average. The ladder's
    timing (60 / 120 / 180 s) runs `compression` times faster than real life."""
    rng = random.Random(seed)
    total = nodes * episodes_per_node
    span = total * MESSAGES_PER_EPISODE / offered_msgs_per_s
    outcomes, weights = [(o, w) for o, _, w in OUTCOME_MIX], [s for _, s, _ in OUTCOME_MIX]
    scripts = []
    for node in range(nodes):
        clock = rng.uniform(1_000, 90_000)  # the camera's clock: seconds since it started
        for _ in range(episodes_per_node):
            outcome, warnings = rng.choices(outcomes, weights)[0]
            start = rng.uniform(0, span)
            x, y = rng.uniform(40, 1500), rng.uniform(300, 900)
            plate = (
                f"{rng.choice(PLATE_PROVINCES)}{rng.choice('ABCDE')}·{rng.randint(0, 99999):05d}"
            )
            scripts.append(
                EpisodeScript(
                    node=node,
                    camera_id=f"cam-{rng.randint(1, 2)}",
                    episode_id=str(new_id()),
                    outcome=outcome,
                    warnings=warnings,
                    start_wall=start,
                    compression=compression,
                    camera_t0=clock + start * compression,
                    steps=_steps(rng, outcome, warnings),
                    plate=plate,
                    zone=rng.choice([("school-gate", "School gate"), ("bus-stop", "Bus stop")]),
                    box=[round(x, 1), round(y, 1), round(x + 260, 1), round(y + 150, 1)],
                )
            )
    return scripts


def node_id(index: int) -> str:
    return f"{NODE_PREFIX}{index:03d}"


def probe_record(n: int) -> EpisodeRecord:
    """A one-message episode the readiness check publishes as `PROBE_NODE`."""
    return numbered_record(n, PROBE_NODE).model_copy(
        update={"episode_id": f"probe-{new_id()}", "zone_id": "probe", "zone_name": "Probe"}
    )
