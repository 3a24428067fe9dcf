"""Turn a ladder step into words: the zone's spoken name, the time left, the plate."""

from __future__ import annotations

import math
from dataclasses import dataclass

from announcer.config import AnnouncerConfig, MessageTemplates


@dataclass(frozen=True)
class WarningStep:
    """What the ladder decided: which warning, for which vehicle, where."""

    episode_id: str
    zone_id: str
    zone_name: str
    warning: int  # 1 or 2
    seconds_to_violation: float
    decided_at: float  # frame timestamp
    plate: str | None = None
    vehicle_since: float = float("-inf")  # frame time it stopped: it heard what came after
    camera_id: str = ""  # zone ids are unique per camera only: `gate` may be on two cameras


_MINUTES = {"zh": "{n}分钟", "en": "{n} minute{s}"}
_SECONDS = {"zh": "{n}秒", "en": "{n} second{s}"}


def spoken_time_left(seconds: float, language: str) -> str:
    """The time a driver has, as they hear it, with its unit: never more than they really
    have (a driver told "1 minute" who is ticketed after 16 s was misled). Whole minutes from
    one minute up; seconds below, in fives from ten up; never "0"."""
    if seconds >= 60:
        n, unit = math.floor(seconds / 60), _MINUTES
    else:
        n, unit = (math.floor(seconds) if seconds < 10 else 5 * math.floor(seconds / 5)), _SECONDS
    n = max(1, n)
    return unit.get(language, "{n}").format(n=n, s="" if n == 1 else "s")


def templates_for(config: AnnouncerConfig, zone_id: str, language: str) -> MessageTemplates:
    zone = config.zones.get(zone_id)
    if zone is not None and language in zone.templates:
        return zone.templates[language]  # type: ignore[index]
    return config.templates[language]  # type: ignore[index]


def compose(config: AnnouncerConfig, step: WarningStep, language: str) -> str:
    """The sentence for one language; warning 2 names the plate when one was read."""
    templates = templates_for(config, step.zone_id, language)
    zone = config.zones.get(step.zone_id)
    name = (zone.names.get(language) if zone else None) or step.zone_name  # type: ignore[call-overload]
    if step.warning >= 2:
        template = templates.warning2
        if step.plate and templates.warning2_plate:
            template = templates.warning2_plate
    else:
        template = templates.warning1
    return template.format(
        zone=name,
        time_left=(left := spoken_time_left(step.seconds_to_violation, language)),
        minutes=left,
        plate=step.plate or "",
    )
