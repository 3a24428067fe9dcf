"""When not to speak, or to speak softly: quiet hours, a zone that just heard the same words,
an episode that has had its share, a speaker muted from the centre.

Driven only by the times it is given (frame time for zone cooldowns, the frame's local time
for quiet hours, the wall clock for mutes), so tests use fake clocks.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from announcer.config import AnnouncerConfig


@dataclass(frozen=True)
class Verdict:
    """`refusal` is None when the announcement goes ahead, at `volume`."""

    refusal: str | None
    volume: float = 1.0
    reason: str = ""


class AnnouncementPolicy:
    def __init__(self, config: AnnouncerConfig) -> None:
        self.config = config
        # (camera, zone) → text → frame time: zone ids are unique per camera only, and the
        # words played at one camera's zone were not heard at another's.
        self._spoken_in_zone: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
        self._per_episode: dict[str, int] = defaultdict(int)
        self.muted_until = 0.0

    def mute(self, until_wall: float) -> None:
        self.muted_until = until_wall

    def decide(
        self,
        episode_id: str,
        zone: tuple[str, str],
        text: str,
        frame_time: float,
        local: datetime,
        now_wall: float,
        vehicle_since: float = float("-inf"),
    ) -> Verdict:
        """`vehicle_since`: when this vehicle stopped. The same words played in the zone
        after that were heard by its driver, so they cover this warning; words played before
        it arrived did not."""
        if not self.config.enabled:
            return Verdict("disabled", reason="announcer disabled in the site config")
        if now_wall < self.muted_until:
            return Verdict("muted", reason="muted from the centre")
        if self._per_episode[episode_id] >= self.config.max_per_episode:
            return Verdict(
                "limit", reason=f"episode already had {self.config.max_per_episode} announcements"
            )
        last = self._spoken_in_zone[zone].get(text)
        recent = last is not None and frame_time - last < self.config.zone_cooldown_s
        if recent and last >= vehicle_since:
            return Verdict(
                "covered",
                reason=f"the same words were played in this zone {frame_time - last:.0f} s ago",
            )
        volume = 1.0
        quiet = self.config.quiet_hours
        if quiet is not None and quiet.covers(local.time()):
            if quiet.mode == "text_only":
                self._count(episode_id, zone, text, frame_time)
                return Verdict("text_only", reason="quiet hours: text only")
            volume = quiet.volume
        self._count(episode_id, zone, text, frame_time)
        return Verdict(None, volume, "quiet hours: quieter" if volume < 1 else "")

    def _count(self, episode_id: str, zone: tuple[str, str], text: str, frame_time: float) -> None:
        self._per_episode[episode_id] += 1
        self._spoken_in_zone[zone][text] = frame_time
