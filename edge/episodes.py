"""Parking episodes: one vehicle staying in one no-parking zone, and its warning ladder.

A tracker id is not a parked car: ids switch under occlusion and flicker, so everything that
matters (timers, warnings, evidence) hangs off the episode. An episode is anchored to where the
vehicle stands; a new track that appears on that anchor takes the episode over, and a vehicle
unseen for a short while (a bus in front) is still there. All timing uses frame timestamps.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from edge.config import EpisodeRules, LadderPolicy
from edge.geometry import box_area, box_inside_share, box_iou
from edge.stillness import StillnessTracker, TrackHistory
from edge.zones import Zone
from models.coco import CLASS_ID, COCO_CLASSES, VEHICLE_CLASSES
from models.detections import Detections
from mqtt.payloads import EpisodeRecord, Transition, WarningRecord

_VEHICLE_IDS = np.array(sorted(CLASS_ID[c] for c in VEHICLE_CLASSES), np.int32)


@dataclass
class Episode:
    zone: Zone
    policy: LadderPolicy
    track_id: int
    vehicle_class: str
    anchor: np.ndarray
    stopped_at: float
    last_seen: float
    id: str = field(default_factory=lambda: str(uuid.uuid4()))
    box: np.ndarray | None = None
    track_ids: list[int] = field(default_factory=list)
    warnings: list[WarningRecord] = field(default_factory=list)
    violation_at: float | None = None
    ended_at: float | None = None
    outcome: Transition | None = None
    suspended_s: float = 0.0
    step_marks: list[float] = field(default_factory=list)
    cooldown_of: str | None = None
    plate: str | None = None
    evidence: list[str] = field(default_factory=list)
    # Restored after a restart and not yet found on its anchor again: it keeps its occlusion
    # grace, but no step of the ladder happens to a vehicle nobody has seen since.
    awaiting_sighting: bool = False
    _last_update: float | None = None

    @property
    def steps_done(self) -> int:
        return len(self.warnings) + (self.violation_at is not None)

    def ladder_elapsed(self, timestamp: float) -> float:
        """Seconds stopped, not counting time suspended by congestion."""
        return timestamp - self.stopped_at - self.suspended_s

    def next_step_due(self) -> float:
        """Ladder time at which the next step falls due (inf when the ladder is done).

        Each step counts from the one before it, not from the stop: an episode that opens
        late (a zone's schedule starting, a jam ending) still gets its full `repeat_s`
        between warnings instead of two warnings back to back."""
        p = self.policy
        gaps = (p.grace_s, p.repeat_s, p.final_s)
        if self.steps_done >= len(gaps):
            return float("inf")
        previous = self.step_marks[-1] if self.step_marks else 0.0
        return previous + gaps[self.steps_done]

    def record(
        self,
        event: EpisodeEvent,
        node_id: str,
        camera_id: str,
        occurred_at: datetime | None = None,
    ) -> EpisodeRecord:
        """The full current state at `event`: each message is self-contained, never a diff."""
        return EpisodeRecord(
            node_id=node_id,
            camera_id=camera_id,
            event=event.transition,
            time=round(event.timestamp, 3),
            occurred_at=occurred_at,
            warning=event.warning_number,
            episode_id=self.id,
            zone_id=self.zone.id,
            zone_name=self.zone.config.name or self.zone.id,
            vehicle_class=self.vehicle_class,
            box=_box_list(self.box if self.box is not None else self.anchor),
            anchor=_box_list(self.anchor),
            stopped_at=round(self.stopped_at, 3),
            warnings=list(self.warnings),
            violation_at=self.violation_at,
            ended_at=self.ended_at,
            outcome=self.outcome,
            track_ids=list(self.track_ids),
            suspended_s=round(self.suspended_s, 3),
            cooldown_of=self.cooldown_of,
            plate=self.plate,
            evidence=list(self.evidence),
        )


@dataclass(frozen=True)
class EpisodeEvent:
    transition: Transition
    episode: Episode
    timestamp: float

    @property
    def warning_number(self) -> int | None:
        return len(self.episode.warnings) if self.transition is Transition.WARNED else None


@dataclass(frozen=True)
class ClosedEpisode:
    """An ended episode, remembered for its zone's cooldown."""

    zone_id: str
    anchor: np.ndarray
    ended_at: float
    episode_id: str
    escalated: bool  # warned or ticketed: what cooldown protects against repeating
    cooldown_s: float
    plate: str | None = None


class EpisodeBook:
    """All open episodes of one camera, advanced frame by frame."""

    def __init__(
        self,
        zones: list[Zone],
        policies: dict[str, LadderPolicy],
        rules: EpisodeRules,
        frame_width: float = float("inf"),
    ) -> None:
        self.zones = zones
        self.policies = policies
        self.rules = rules
        self.stillness = StillnessTracker(
            rules.still_iou, forget_after_s=rules.occlusion_grace_s, frame_width=frame_width
        )
        self.open: list[Episode] = []
        self.closed: list[ClosedEpisode] = []
        self.congested = False
        self._congested_at: float | None = None  # the last detector run that saw a jam
        self._last_detection: float | None = None
        self._last_frame: float | None = None

    # -- frames where the detector ran -------------------------------------------------------
    def update(self, tracked: Detections, timestamp: float, moment: datetime) -> list[EpisodeEvent]:
        self._bridge_outage(timestamp)
        vehicles = tracked[np.isin(tracked.class_id, _VEHICLE_IDS) & (tracked.tracker_id >= 0)]
        histories = self.stillness.observe(
            vehicles.tracker_id, vehicles.xyxy, vehicles.class_id, timestamp
        )
        self.congested = self._is_congested(histories, timestamp)
        if self.congested:
            self._congested_at = timestamp
        self._last_detection = timestamp
        events: list[EpisodeEvent] = []
        for episode in list(self.open):
            events += self._follow(episode, histories, timestamp, moment)
        events += self._open_new(vehicles, histories, timestamp, moment)
        events += self._advance(timestamp)
        return events

    # -- frames the motion gate skipped: nothing moved, so every parked vehicle is still there --
    def tick(self, timestamp: float) -> list[EpisodeEvent]:
        """Only vehicles the last detector run saw are carried forward: one that had already
        gone stays gone."""
        self._bridge_outage(timestamp)
        for episode in self.open:
            if episode.last_seen == self._last_detection and not episode.awaiting_sighting:
                episode.last_seen = timestamp
        if self._last_detection is not None:
            self._last_detection = timestamp
        return self._advance(timestamp)

    # ------------------------------------------------------------------------------------------
    def _bridge_outage(self, timestamp: float) -> None:
        """No frame for longer than the occlusion grace: the camera was down (a stream lost
        and reconnected), and nobody saw any vehicle leave. As after a restart, each open
        episode waits to be found on its anchor again, its grace counted from now, and no
        step of its ladder happens until it is: an outage is neither a departure (a warned
        car would count as dissuaded) nor a sighting."""
        if (
            self._last_frame is not None
            and timestamp - self._last_frame > self.rules.occlusion_grace_s
        ):
            for episode in self.open:
                episode.track_id, episode.last_seen = -1, timestamp
                episode.awaiting_sighting = True
        self._last_frame = timestamp

    def _is_congested(self, histories: list[TrackHistory], timestamp: float) -> bool:
        """A jam is traffic queueing: most vehicles that drove in lately stand still at once.
        Then a stopped car in the zone is queueing, not parking: suspend, never warn.

        Only traffic counts. Cars parked at the kerb before the camera looked, or standing
        longer than `queue_window_s`, are parking; counting them would let any kerb with a
        few parked cars silence every warning."""
        rules = self.rules
        flow = [h for h in histories if h.in_flow(timestamp, rules.queue_window_s)]
        queued = sum(h.still_for(timestamp) >= rules.still_window_s for h in flow)
        return queued >= max(rules.congestion_min_stopped, rules.congestion_ratio * len(flow))

    def _follow(
        self, episode: Episode, histories: list[TrackHistory], timestamp: float, moment: datetime
    ) -> list[EpisodeEvent]:
        """Keep an episode on its vehicle through id switches and occlusion; end it when the
        vehicle has gone."""
        if not episode.zone.active_at(moment):  # the rule ended, the vehicle did not leave
            return self._close(episode, timestamp, expired=True)
        own = next((h for h in histories if h.track_id == episode.track_id), None)
        if own is not None and self._still_on_anchor(own.box, episode.anchor):
            episode.box, episode.last_seen = own.box, timestamp
            episode.awaiting_sighting = False
            return []
        # Bound track gone or moved away: does another track now stand on the anchor?
        bound = {e.track_id for e in self.open if e is not episode}
        successor = self._successor(episode, histories, bound)
        if successor is not None:
            episode.track_id = successor.track_id
            episode.track_ids.append(successor.track_id)
            episode.box, episode.last_seen = successor.box, timestamp
            episode.awaiting_sighting = False
            return []
        if own is not None and not self._spot_covered(episode.anchor, histories):
            return self._close(episode, episode.last_seen)  # drove off and the spot is clear
        # Its track went elsewhere but something stands on the spot: a vehicle passing in
        # front took the track's id (ByteTrack swaps ids under occlusion), and the parked one
        # is behind it. Wait, as for any hidden vehicle, for it to show again.
        if timestamp - episode.last_seen > self.rules.occlusion_grace_s:
            return self._close(episode, episode.last_seen)
        return []

    def _still_on_anchor(self, box: np.ndarray, anchor: np.ndarray) -> bool:
        """Still where it parked: overlapping its anchor, or partly hidden and so showing a
        smaller box that lies within it."""
        return (
            box_iou(box, anchor) >= self.rules.release_iou
            or box_inside_share(box, anchor) >= self.rules.hidden_inside
        )

    def _spot_covered(self, anchor: np.ndarray, histories: list[TrackHistory]) -> bool:
        """Some box in view covers most of the spot a vehicle stood on."""
        return any(box_inside_share(anchor, h.box) >= self.rules.spot_covered for h in histories)

    def _successor(
        self, episode: Episode, histories: list[TrackHistory], bound: set[int]
    ) -> TrackHistory | None:
        """A track on the episode's anchor, of a similar size (a bus passing in front of a
        parked car overlaps it but is not it)."""
        best, best_iou = None, self.rules.takeover_iou
        anchor_area = box_area(episode.anchor)
        for history in histories:
            if history.track_id in bound or history.track_id == episode.track_id:
                continue
            ratio = box_area(history.box) / anchor_area if anchor_area else 0
            iou = box_iou(history.box, episode.anchor)
            if 0.5 <= ratio <= 2.0 and iou >= best_iou:
                best, best_iou = history, iou
        return best

    def _open_new(
        self,
        vehicles: Detections,
        histories: list[TrackHistory],
        timestamp: float,
        moment: datetime,
    ) -> list[EpisodeEvent]:
        if self.congested:
            return []
        bound = {e.track_id for e in self.open}
        events = []
        for zone in self.zones:
            if not zone.active_at(moment):
                continue
            inside = zone.trigger(vehicles)
            for history, in_zone in zip(histories, inside, strict=True):
                if not in_zone or history.track_id in bound:
                    continue
                if history.still_for(timestamp) < self.rules.still_window_s:
                    continue
                if history.class_id not in {CLASS_ID[c] for c in zone.config.classes}:
                    continue
                if any(
                    box_iou(history.anchor, e.anchor) >= self.rules.takeover_iou for e in self.open
                ):
                    continue
                episode = Episode(
                    zone=zone,
                    policy=self.policies[zone.id],
                    track_id=history.track_id,
                    vehicle_class=COCO_CLASSES[history.class_id],
                    anchor=history.anchor.copy(),
                    stopped_at=history.anchor_since,
                    last_seen=timestamp,
                    box=history.box,
                    track_ids=[history.track_id],
                    suspended_s=self._jammed_since(history.anchor_since),
                    _last_update=timestamp,
                )
                episode.cooldown_of = self._recent_escalation(zone.id, episode.anchor, timestamp)
                self.open.append(episode)
                bound.add(history.track_id)
                events.append(EpisodeEvent(Transition.STOPPED, episode, timestamp))
        return events

    def _jammed_since(self, stopped_at: float) -> float:
        """Seconds of a vehicle's stop that fell inside a jam: a car still standing when the
        queue moves on was queueing, not parking, until then, so its grace starts now."""
        if self._congested_at is None or self._congested_at <= stopped_at:
            return 0.0
        return self._congested_at - stopped_at

    def set_plate(self, episode: Episode, plate: str, timestamp: float) -> None:
        """The vote decided this vehicle's plate. The same plate warned or ticketed in this
        zone within its cooldown puts the episode under that cooldown: no second ladder."""
        episode.plate = plate
        if episode.cooldown_of is not None:
            return
        self.closed = [c for c in self.closed if timestamp - c.ended_at <= c.cooldown_s]
        for closed in reversed(self.closed):
            if closed.zone_id == episode.zone.id and closed.escalated and closed.plate == plate:
                episode.cooldown_of = closed.episode_id
                return

    def _recent_escalation(self, zone_id: str, anchor: np.ndarray, timestamp: float) -> str | None:
        """The episode that already warned or ticketed this vehicle here within its cooldown.

        Without a plate the vehicle is recognised by where it stands; once the plate reader
        has voted, `set_plate` keys it on (plate, zone)."""
        self.closed = [c for c in self.closed if timestamp - c.ended_at <= c.cooldown_s]
        for closed in reversed(self.closed):
            if (
                closed.zone_id == zone_id
                and closed.escalated
                and box_iou(closed.anchor, anchor) >= self.rules.takeover_iou
            ):
                return closed.episode_id
        return None

    def _advance(self, timestamp: float) -> list[EpisodeEvent]:
        """Move each open episode up its ladder; congestion pauses the ladder clock."""
        events = []
        for episode in self.open:
            last = episode._last_update if episode._last_update is not None else timestamp
            if self.congested:
                episode.suspended_s += max(0.0, timestamp - last)
            episode._last_update = timestamp
            if self.congested or episode.cooldown_of is not None:
                continue
            if (
                episode.awaiting_sighting
                or timestamp - episode.last_seen > self.rules.seen_within_s
            ):
                continue  # hidden right now: no warning or ticket on a vehicle we cannot see
            if episode.ladder_elapsed(timestamp) < episode.next_step_due():
                continue
            episode.step_marks.append(episode.ladder_elapsed(timestamp))
            if len(episode.warnings) < 2:
                episode.warnings.append(
                    WarningRecord(n=len(episode.warnings) + 1, at=round(timestamp, 3))
                )
                events.append(EpisodeEvent(Transition.WARNED, episode, timestamp))
            else:
                episode.violation_at = round(timestamp, 3)
                events.append(EpisodeEvent(Transition.VIOLATION, episode, timestamp))
        return events

    def _close(
        self, episode: Episode, ended_at: float, *, expired: bool = False
    ) -> list[EpisodeEvent]:
        """End an episode. Its outcome says what the driver did: left after a warning
        (dissuaded, the success the node exists for), left before one (cleared), or nothing
        until the zone's schedule ended (expired: never counted as a success)."""
        self.open.remove(episode)
        episode.ended_at = round(ended_at, 3)
        escalated = bool(episode.warnings) or episode.violation_at is not None
        self.closed.append(
            ClosedEpisode(
                episode.zone.id,
                episode.anchor,
                ended_at,
                episode.id,
                escalated,
                episode.policy.cooldown_s,
                episode.plate,
            )
        )
        if episode.violation_at is not None:
            episode.outcome = Transition.VIOLATION  # ticketed vehicles leaving is no success
            return []
        if expired:
            episode.outcome = Transition.EXPIRED
        else:
            episode.outcome = Transition.DISSUADED if episode.warnings else Transition.CLEARED
        return [EpisodeEvent(episode.outcome, episode, ended_at)]


def _box_list(box: np.ndarray) -> list[float]:
    return [round(float(v), 1) for v in box]
