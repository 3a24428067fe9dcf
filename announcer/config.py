"""The announcer section of the site config: languages, voices, message templates, outputs and
the rules that keep a roadside speaker from becoming a nuisance.

Every template is checked when the config loads, so a typo in a placeholder is a config error
at install time, not a silent speaker at the first warning.
"""

from __future__ import annotations

import string
from datetime import time
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, field_validator, model_validator

from configbase import StrictModel

Language = Literal["zh", "en"]
# `minutes` is the older name of `time_left`, kept so site templates written with it still load.
PLACEHOLDERS = frozenset({"zone", "time_left", "minutes", "plate"})


def _check_placeholders(template: str) -> str:
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = names - PLACEHOLDERS
    if unknown:
        raise ValueError(
            f"unknown placeholder(s) {sorted(unknown)} in {template!r}; use {sorted(PLACEHOLDERS)}"
        )
    return template


class MessageTemplates(StrictModel):
    """What is said at each warning of the ladder, in one language.

    Placeholders: {zone} (the zone's spoken name), {time_left} (time until a violation is
    recorded, with its unit, never more than the driver has: "3分钟", "45 seconds"; `minutes`
    is its older name), {plate} (only in `warning2_plate`, used when a plate was read)."""

    warning1: str = Field(description="The first, polite warning.")
    warning2: str = Field(description="The second, firmer warning.")
    warning2_plate: str | None = Field(
        None, description="The second warning naming the plate; `warning2` when empty."
    )

    @field_validator("warning1", "warning2", "warning2_plate")
    @classmethod
    def _placeholders(cls, template: str | None) -> str | None:
        return None if template is None else _check_placeholders(template)

    @model_validator(mode="after")
    def _plate_only_where_known(self) -> MessageTemplates:
        for name in ("warning1", "warning2"):
            if "{plate}" in getattr(self, name):
                raise ValueError(f"{name} cannot use {{plate}}: put it in warning2_plate")
        return self


DEFAULT_TEMPLATES: dict[str, MessageTemplates] = {
    "zh": MessageTemplates(
        warning1="您好，{zone}禁止停车，请于{time_left}内驶离，谢谢配合。",
        warning2="请注意，{zone}禁止停车，请立即驶离，否则将依法处理。",
        warning2_plate="{plate}车主请注意，{zone}禁止停车，请立即驶离，否则将依法处理。",
    ),
    "en": MessageTemplates(
        warning1="Hello. No parking at {zone}. Please move your vehicle within {time_left}. "
        "Thank you.",
        warning2="Final warning. No parking at {zone}. Move your vehicle now or a violation "
        "will be recorded.",
        warning2_plate="Vehicle {plate}, final warning. No parking at {zone}. Move your "
        "vehicle now or a violation will be recorded.",
    ),
}

DEFAULT_VOICES: dict[str, list[str]] = {
    # espeak-ng's plain `sit/cmn` spells Chinese characters out; the pinyin voice reads them.
    "zh": ["sit/cmn-latn-pinyin", "sit/cmn"],
    "en": ["gmw/en-us", "gmw/en", "en"],
}


class ZoneMessages(StrictModel):
    """Per-zone wording: how the zone is called in each language, and optional templates."""

    names: dict[Language, str] = Field(
        default_factory=dict, description="Spoken zone name per language, e.g. {zh: 学校门口}."
    )
    templates: dict[Language, MessageTemplates] = Field(
        default_factory=dict, description="Replace the site's templates in this zone."
    )


class QuietHours(StrictModel):
    """At night a speaker is turned down, or only the text is logged (for a display sign)."""

    start: time = Field(time(22, 0), description="Local time quiet hours begin.")
    end: time = Field(time(7, 0), description="Local time they end (may be past midnight).")
    mode: Literal["quieter", "text_only"] = Field("quieter")
    volume: float = Field(0.3, gt=0, le=1, description="Volume share in `quieter` mode.")

    def covers(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end


class WavOutput(StrictModel):
    """Each announcement written as a numbered WAV file (demo, tests, a recording)."""

    kind: Literal["wav"] = "wav"
    dir: Path = Field(description="Folder the WAV files go to.")


class DeviceOutput(StrictModel):
    """The box's own sound card, through a small player that ships with the OS."""

    kind: Literal["device"] = "device"
    player: Literal["aplay", "paplay"] = Field("aplay", description="ALSA or PulseAudio player.")
    device: str | None = Field(None, description="ALSA device (aplay -D) or Pulse sink.")


class HttpOutput(StrictModel):
    """An IP speaker that takes a WAV by HTTP POST."""

    kind: Literal["http"] = "http"
    url: str = Field(pattern=r"^https?://", description="Where the WAV is POSTed.")
    timeout_s: float = Field(10, gt=0, le=120)
    headers: dict[str, str] = Field(default_factory=dict, description="e.g. an API token.")


class CommandOutput(StrictModel):
    """Any speaker a command line can drive; `{wav}` is replaced by the clip's path."""

    kind: Literal["command"] = "command"
    command: list[str] = Field(min_length=1, description="argv, e.g. [ipspeaker, play, '{wav}']")
    timeout_s: float = Field(60, gt=0, le=600)


Output = Annotated[
    WavOutput | DeviceOutput | HttpOutput | CommandOutput, Field(discriminator="kind")
]


class AnnouncerConfig(StrictModel):
    enabled: bool = Field(True, description="Speak the warnings of the ladder.")
    languages: list[Language] = Field(
        default_factory=lambda: ["zh"],
        min_length=1,
        description="Spoken one after the other in each announcement.",
    )
    voices: dict[Language, list[str]] = Field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_VOICES.items()},
        description="espeak-ng voice ids per language, in order of preference.",
    )
    rate: int = Field(150, ge=60, le=400, description="Words per minute.")
    templates: dict[Language, MessageTemplates] = Field(
        default_factory=lambda: dict(DEFAULT_TEMPLATES)
    )
    zones: dict[str, ZoneMessages] = Field(
        default_factory=dict, description="Per-zone names and templates, by zone id."
    )
    outputs: list[Output] = Field(
        default_factory=lambda: [DeviceOutput()], description="Where announcements are played."
    )
    clip_cache: Path | None = Field(
        None, description="Rendered clips; the per-user data dir when empty."
    )
    quiet_hours: QuietHours | None = Field(None, description="Quieter or silent at night.")
    zone_cooldown_s: float = Field(
        30, ge=0, description="The same words are not repeated in a zone within this (frame time)."
    )
    max_per_episode: int = Field(2, ge=1, le=10, description="Announcements per episode at most.")
    max_wait_s: float = Field(
        60, gt=0, description="An announcement queued longer than this is dropped as stale."
    )

    @model_validator(mode="after")
    def _every_language_has_words(self) -> AnnouncerConfig:
        for language in self.languages:
            if language not in self.templates:
                raise ValueError(f"no templates for language {language!r}")
        return self
