"""The payloads of the edge-centre contract (design.md, "The contract (MQTT)").

Every message is a self-contained JSON document with an envelope:

- `schema`: name and *major* version, e.g. ``roadguard.episode/1``. A receiver that does not
  know the major version rejects the message (`mqtt.receive`); a change that only adds
  fields keeps the major, because every model here ignores fields it does not know. That is
  what lets a newer node talk to an older centre.
- `id`: a UUIDv7, time-ordered, so the centre's idempotent ingest and its indexes see ids in
  roughly the order they were made.
- `seq`: the sending node's monotonically increasing counter (kept across restarts by the
  outbox), so a receiver can see gaps.
- `sent_at`: a UTC timestamp; naive datetimes are refused rather than guessed.

Evidence is the one payload that is not JSON: the MQTT payload is the JPEG itself and the
`Evidence` document travels beside it in the MQTT v5 user property ``roadguard-meta``
(content type ``image/jpeg``); see `mqtt.topics` and `mqtt.client`.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Self
from uuid import UUID

import uuid6
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

# A topic level: what edge/config.py accepts for node, camera and zone ids, and no MQTT
# wildcard or separator can hide in it.
SEGMENT_PATTERN = r"^[\w-]{1,64}$"
# An evidence file name as edge/evidence.py writes it ("warning1-frame.jpg").
FILE_NAME_PATTERN = r"^[\w.-]{1,128}$"
# Topic levels below a node that are not cameras; a camera must not be named like one.
RESERVED_SEGMENTS = frozenset({"status", "health", "cmd", "ack", "receipts"})

EVIDENCE_CONTENT_TYPE = "image/jpeg"
# What evidence may be, by file suffix: pictures, and the voice warning as it was played.
EVIDENCE_CONTENT_TYPES = {".jpg": "image/jpeg", ".wav": "audio/wav"}
EVIDENCE_META_PROPERTY = "roadguard-meta"  # MQTT v5 user property carrying `Evidence`

# What every database the centre runs on can hold: a signed 64-bit integer, a finite float,
# text without NUL or lone surrogates. A value outside these passes JSON and pydantic but
# fails in SQL (OverflowError in SQLite, DataError in PostgreSQL) -- a message that can
# never be stored, so it is refused at validation, where it is a clear permanent error.
MAX_STORABLE_INT = 2**63 - 1
MAX_DOCUMENT_DEPTH = 32


class NotStorable(ValueError):
    """A value no database of the centre can hold (see `check_storable`)."""


def check_storable(value: Any, where: str = "", depth: int = 0) -> None:
    """Walk a JSON-like document and raise NotStorable at the first value the databases
    cannot hold, naming where it is (``warnings.0.at``)."""
    if depth > MAX_DOCUMENT_DEPTH:
        raise NotStorable(f"{where or 'document'}: nested deeper than {MAX_DOCUMENT_DEPTH}")
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if not -MAX_STORABLE_INT <= value <= MAX_STORABLE_INT:
            raise NotStorable(f"{where or 'value'}: integer out of the 64-bit range")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise NotStorable(f"{where or 'value'}: {value} is not a finite number")
    elif isinstance(value, str):
        _check_text(value, where)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(str(key), f"{where}.{key}" if where else str(key))
            check_storable(item, f"{where}.{key}" if where else str(key), depth + 1)
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_storable(item, f"{where}.{index}" if where else str(index), depth + 1)


def _check_text(value: str, where: str) -> None:
    if "\x00" in value:
        raise NotStorable(f"{where or 'text'}: contains a NUL character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise NotStorable(f"{where or 'text'}: not valid UTF-8 (lone surrogate)") from None


class Transition(StrEnum):
    """The episode transitions of the contract (design.md, "The parking episode")."""

    STOPPED = "stopped"
    WARNED = "warned"
    DISSUADED = "dissuaded"  # left after a warning: the success the node exists for
    CLEARED = "cleared"  # left before any warning
    EXPIRED = "expired"  # the zone's schedule ended with the vehicle still there
    VIOLATION = "violation"


Outcome = Literal["dissuaded", "cleared", "expired", "violation"]
CommandVerb = Literal["reload", "mute", "announce-test"]
COMMAND_VERBS: tuple[str, ...] = ("reload", "mute", "announce-test")


def new_id() -> UUID:
    """A UUIDv7 (RFC 9562): time-ordered; `uuid6` keeps it monotonic within a millisecond."""
    return uuid6.uuid7()


def utc_now() -> datetime:
    return datetime.now(UTC)


def _to_utc(value: datetime) -> datetime:
    return value.astimezone(UTC)


UtcDatetime = Annotated[AwareDatetime, AfterValidator(_to_utc)]
Segment = Annotated[str, Field(pattern=SEGMENT_PATTERN)]
Box = Annotated[list[float], Field(min_length=4, max_length=4)]


def _schema_extra(schema: dict[str, Any], cls: type) -> None:
    """Pin `schema` to this model's name/major in the generated JSON Schema."""
    schema_id = f"{cls.SCHEMA_NAME}/{cls.MAJOR}"  # type: ignore[attr-defined]
    schema["$id"] = f"https://roadguard.invalid/schemas/{schema_id}.json"
    schema["properties"]["schema"]["const"] = schema_id


def parse_schema(value: str) -> tuple[str, int]:
    """``"roadguard.episode/1"`` -> ``("roadguard.episode", 1)``; ValueError when malformed."""
    match = re.fullmatch(r"([a-z][a-z0-9.-]*)/([0-9]{1,4})", value)
    if match is None:
        raise ValueError(f"malformed schema {value!r}; expected 'name/major'")
    return match.group(1), int(match.group(2))


class Payload(BaseModel):
    """The envelope every message shares. Subclasses set `SCHEMA_NAME` and `MAJOR`."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.payload"
    MAJOR: ClassVar[int] = 1

    # Unknown fields are ignored (forward compatibility); populate_by_name lets Python code
    # say `schema_` while the wire says `schema` (BaseModel already owns `.schema`).
    model_config = ConfigDict(
        extra="ignore", populate_by_name=True, frozen=True, json_schema_extra=_schema_extra
    )

    schema_: str = Field(
        alias="schema",
        title="Schema",
        description="Payload name and major version, e.g. 'roadguard.episode/1'.",
    )
    id: UUID = Field(default_factory=new_id, title="Message id", description="UUIDv7.")
    seq: int = Field(
        ge=0,
        le=MAX_STORABLE_INT,
        title="Sequence",
        description="The sender's monotonically increasing counter.",
    )
    sent_at: UtcDatetime = Field(
        default_factory=utc_now, title="Sent at", description="UTC time the message was made."
    )

    @model_validator(mode="before")
    @classmethod
    def _storable(cls, data: Any) -> Any:
        """Refuse what no database can hold, before any field is parsed (`check_storable`)."""
        try:
            check_storable(data)
        except NotStorable as exc:
            raise ValueError(f"not storable: {exc}") from None
        return data

    @classmethod
    def schema_id(cls) -> str:
        return f"{cls.SCHEMA_NAME}/{cls.MAJOR}"

    @field_validator("schema_")
    @classmethod
    def _known_major(cls, value: str) -> str:
        name, major = parse_schema(value)
        if name != cls.SCHEMA_NAME:
            raise ValueError(f"schema {value!r} is not {cls.SCHEMA_NAME}")
        if major != cls.MAJOR:
            raise ValueError(f"unknown major version {major} of {name} (know {cls.MAJOR})")
        return value

    @classmethod
    def build(cls, **fields: Any) -> Any:
        """Construct with the schema filled in: `Episode.build(seq=1, ...)`."""
        return cls.model_validate({"schema": cls.schema_id(), **fields})

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()

    def with_seq(self, seq: int) -> Self:
        """The same payload numbered `seq`. The outbox numbers a message inside its commit,
        where every microsecond holds the other writers up; the rest was validated when the
        payload was built, outside it."""
        if not 0 <= seq <= MAX_STORABLE_INT:
            raise ValueError(f"seq {seq} is out of range")
        return self.model_copy(update={"seq": seq})


class NodePayload(Payload):
    node_id: Segment = Field(title="Node id", description="The edge node that sent it.")


# -- status -----------------------------------------------------------------------------------
class Status(NodePayload):
    """Birth (`online`, on every connect) and death (`offline`: the broker's last will or a
    clean shutdown). Retained, so a centre that starts later still knows each node's state."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.status"

    state: Literal["online", "offline"] = Field(title="State")
    software_version: str = Field(title="Software version", max_length=64)
    cameras: list[Segment] = Field(default_factory=list, title="Camera ids")
    restarts: int = Field(
        ge=0,
        title="Restart counter",
        description="Counts process starts of this node; a death carries the count of the "
        "birth it ends (Sparkplug's bdSeq), so a stale will cannot mark a newer birth offline.",
    )
    online_since: UtcDatetime | None = Field(None, title="Online since")


# -- episode ----------------------------------------------------------------------------------
# An evidence picture as an episode refers to it: "<episode-id>/<file name>".
EvidenceReference = Annotated[str, Field(pattern=r"^[\w-]{1,64}/[\w.-]{1,128}$")]


class AnnouncementRecord(BaseModel):
    """What became of one spoken warning (announcer.service `Announcement.record()`)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    clip: str = Field(title="Clip file", max_length=200)
    text: str = Field(title="Words spoken", max_length=2000)
    status: str = Field(
        title="Status", max_length=32, description="queued, played, failed, muted, covered..."
    )
    volume: float = Field(1.0, ge=0, le=1, title="Volume")
    reason: str = Field("", title="Why (a refusal or a quieter volume)", max_length=500)
    played_at: UtcDatetime | None = Field(None, title="Played at (UTC)")
    errors: list[str] = Field(default_factory=list, title="Speaker errors")
    clip_evidence: EvidenceReference | None = Field(
        None,
        title="Clip as played",
        description="Evidence reference of the WAV the speaker played (when it played).",
    )


class WarningRecord(BaseModel):
    """One rung of the warning ladder: when, its pictures, what was said."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    n: int = Field(ge=1, title="Warning number")
    at: float = Field(ge=0, title="At", description="Camera clock seconds.")
    evidence: list[EvidenceReference] = Field(default_factory=list, title="Evidence references")
    announcement: AnnouncementRecord | None = Field(None, title="Announcement, if any")


class EpisodeRecord(BaseModel):
    """One episode transition: the full current state of the episode, never a diff.

    The one value an episode is from the camera to the officer's page: the edge makes it
    (edge/pipeline.py), sinks write it (the JSON-lines log, the outbox), the contract carries
    it inside the envelope (`Episode`), the centre stores and renders it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    node_id: Segment = Field(title="Node id", description="The edge node that sent it.")
    camera_id: Segment = Field(title="Camera id")
    event: Transition = Field(title="Transition")
    time: float = Field(ge=0, title="Time", description="Camera clock seconds of the event.")
    occurred_at: UtcDatetime | None = Field(
        None, title="Occurred at", description="UTC wall time of the event, when known."
    )
    warning: int | None = Field(None, ge=1, title="Warning number (for 'warned')")
    episode_id: str = Field(min_length=1, max_length=64, pattern=SEGMENT_PATTERN)
    zone_id: Segment = Field(title="Zone id")
    zone_name: str = Field(title="Zone name", max_length=200)
    vehicle_class: str = Field(title="Vehicle class", max_length=32)
    box: Box = Field(title="Box", description="x1, y1, x2, y2 in pixels.")
    anchor: Box = Field(title="Anchor box", description="The box when the vehicle stopped.")
    stopped_at: float = Field(ge=0, title="Stopped at (camera seconds)")
    warnings: list[WarningRecord] = Field(default_factory=list, title="Warnings")
    violation_at: float | None = Field(None, title="Violation at (camera seconds)")
    ended_at: float | None = Field(None, title="Ended at (camera seconds)")
    outcome: Outcome | None = Field(None, title="Outcome")
    track_ids: list[int] = Field(default_factory=list, title="Tracker ids")
    suspended_s: float = Field(0.0, ge=0, title="Seconds suspended (congestion)")
    cooldown_of: str | None = Field(None, title="Episode this one is a cooldown repeat of")
    plate: str | None = Field(None, title="Plate, if read", max_length=32)
    evidence: list[EvidenceReference] = Field(default_factory=list, title="Evidence references")

    @property
    def ended(self) -> bool:
        """Nothing more is captured for it: its vehicle left, or its ladder is done."""
        return self.ended_at is not None or self.event == Transition.VIOLATION


class Episode(NodePayload, EpisodeRecord):
    """An `EpisodeRecord` in the envelope: what travels on `.../<camera>/episode`."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.episode"

    @classmethod
    def from_record(
        cls, record: EpisodeRecord, *, seq: int, sent_at: datetime | None = None
    ) -> Episode:
        """Wrap one record in the envelope. Raises pydantic's ValidationError when the
        record does not fit the contract (an unstorable value): better at the source than
        at the centre."""
        extra = {"sent_at": sent_at} if sent_at is not None else {}
        return cls.build(seq=seq, **extra, **record.model_dump())

    def record(self) -> EpisodeRecord:
        """The record inside the envelope."""
        return EpisodeRecord.model_validate(self.model_dump())


# -- evidence ---------------------------------------------------------------------------------
class Evidence(NodePayload):
    """Metadata of one evidence file: a JPEG, or the WAV of a played warning. Travels as the
    MQTT v5 user property `roadguard-meta` beside the file's bytes (the MQTT payload), so the
    file is not base64-inflated by a third and the centre can store it as it came. (`audio/wav`
    is an addition within major 1: a centre that predates it dead-letters the clip, and
    nothing else.)"""

    SCHEMA_NAME: ClassVar[str] = "roadguard.evidence"

    camera_id: Segment = Field(title="Camera id")
    episode_id: str = Field(pattern=SEGMENT_PATTERN, title="Episode id")
    name: str = Field(pattern=FILE_NAME_PATTERN, title="File name", description="e.g. x.jpg")
    content_type: Literal["image/jpeg", "audio/wav"] = Field(
        EVIDENCE_CONTENT_TYPE, title="Content type", description="Matches the name's suffix."
    )
    size: int = Field(ge=0, title="Bytes")
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$", title="SHA-256 of the bytes")
    captured_at: UtcDatetime | None = Field(None, title="Captured at")

    @property
    def reference(self) -> str:
        """How episodes refer to it: ``<episode-id>/<name>``."""
        return f"{self.episode_id}/{self.name}"

    @model_validator(mode="after")
    def _type_matches_name(self) -> Evidence:
        expected = content_type_of(self.name)
        if expected != self.content_type:
            raise ValueError(f"{self.name!r} is not {self.content_type} evidence")
        return self


def content_type_of(name: str) -> str | None:
    """The evidence content type a file name stands for (None: not evidence)."""
    return EVIDENCE_CONTENT_TYPES.get(Path(name).suffix.lower())


# -- health -----------------------------------------------------------------------------------
class CameraHealth(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    camera_id: Segment = Field(title="Camera id")
    state: str = Field(title="State", max_length=32, description="e.g. live, lost, failed.")
    detail: str | None = Field(
        None, max_length=200, title="Why", description="Why it is in that state (lost, failed)."
    )
    fps: float | None = Field(None, ge=0, title="Frames per second")
    detector_latency_ms: float | None = Field(None, ge=0, title="Detector latency (ms)")
    errors: int = Field(0, ge=0, title="Frames or source failures since start")
    restarts: int = Field(0, ge=0, title="Times its source was reopened by the supervisor")
    reconnects: int = Field(0, ge=0, title="Times a live stream was lost and reconnected")


class Health(NodePayload):
    """Periodic node health. The only payload the outbox may drop when it is full."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.health"

    cameras: list[CameraHealth] = Field(default_factory=list, title="Cameras")
    detector_latency_ms: float | None = Field(None, ge=0, title="Detector latency (ms)")
    outbox_depth: int = Field(0, ge=0, title="Messages waiting in the outbox")
    outbox_bytes: int = Field(0, ge=0, title="Bytes waiting in the outbox")
    disk_free_bytes: int | None = Field(None, ge=0, title="Free disk bytes")
    uptime_s: float = Field(0.0, ge=0, title="Uptime (s)")
    announcements: dict[str, int] = Field(
        default_factory=dict, title="Announcements by outcome (played, failed, muted...)"
    )
    speaker_error: str | None = Field(None, max_length=500, title="Last speaker failure")
    evidence_failures: int = Field(0, ge=0, title="Evidence pictures that could not be saved")
    state_failures: int = Field(0, ge=0, title="Episode state saves that failed (disk)")


# -- commands ---------------------------------------------------------------------------------
class Command(Payload):
    """Centre -> node on ``roadguard/v1/<node>/cmd/<verb>``. `seq` is the issuer's counter.

    Arguments by verb: `reload` none; `mute` ``{"minutes": float, "camera_id": str?}``;
    `announce-test` ``{"camera_id": str?, "text": str?}``. Handlers validate their own args."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.cmd"

    node_id: Segment = Field(title="Target node id")
    verb: CommandVerb = Field(title="Verb")
    args: dict[str, Any] = Field(default_factory=dict, title="Arguments")
    issued_by: str = Field("central", max_length=64, title="Issuer")
    expires_at: UtcDatetime | None = Field(
        None, title="Expires at", description="A node that gets it later does not run it."
    )


AckStatus = Literal["ok", "error", "rejected", "expired", "unsupported"]


class CommandAck(NodePayload):
    """Node -> centre on ``roadguard/v1/<node>/ack/<verb>``: what became of a command."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.ack"

    command_id: UUID | None = Field(title="Id of the command answered (None if unreadable)")
    verb: str = Field(max_length=64, title="Verb")
    status: AckStatus = Field(title="Status")
    detail: str = Field("", max_length=2000, title="Detail")
    result: dict[str, Any] = Field(default_factory=dict, title="Handler result")


# -- receipts ---------------------------------------------------------------------------------
class Refusal(BaseModel):
    """A message the centre will never store, and why (it is in the centre's dead letters)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: UUID = Field(title="Message id")
    reason: str = Field(max_length=500, title="Reason")


class Receipt(Payload):
    """Centre -> node on ``roadguard/v1/<node>/receipts``: the end-to-end acknowledgement.

    `ids` are messages the centre has committed (or had already: a re-send); `refused` are
    messages it put in its dead letters. Either way the node may forget them. A broker's
    PUBACK only says the broker has a message, and brokers differ in what they keep across a
    restart (Mosquitto 2.0 does not restore an offline client's shared subscription), so the
    node's outbox keeps every episode and evidence row until a receipt names it."""

    SCHEMA_NAME: ClassVar[str] = "roadguard.receipt"

    node_id: Segment = Field(title="Node id", description="The node whose messages these are.")
    ids: list[UUID] = Field(default_factory=list, max_length=5000, title="Committed ids")
    refused: list[Refusal] = Field(default_factory=list, max_length=5000, title="Refused")


PAYLOAD_TYPES: tuple[type[Payload], ...] = (
    Status,
    Episode,
    Evidence,
    Health,
    Command,
    CommandAck,
    Receipt,
)
BY_SCHEMA_NAME: dict[str, type[Payload]] = {t.SCHEMA_NAME: t for t in PAYLOAD_TYPES}
