"""API schemas: what the JSON API takes and returns, apart from the persistence models."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from central.episodes.workflow import DismissReason
from central.models import Role
from mqtt.payloads import AnnouncementRecord, EpisodeRecord


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class SessionOut(BaseModel):
    username: str
    role: str
    csrf_token: str = Field(description="Send it as X-CSRF-Token on every POST/DELETE.")


class TicketIn(BaseModel):
    note: str = Field("", max_length=2000)


class DismissIn(BaseModel):
    reason: DismissReason = Field(description="Why no ticket; `other` needs a note.")
    note: str = Field("", max_length=2000)


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    from_state: str | None
    to_state: str
    actor: str
    at: datetime
    reason: str
    note: str


class EvidenceRef(BaseModel):
    reference: str
    url: str | None = Field(description="Null until the file has arrived.")
    sha256: str | None


class EvidenceStepOut(BaseModel):
    title: str
    kind: str = Field(description="warning, violation or other")
    n: int | None = Field(None, description="The warning's number")
    at: float | None = Field(description="Camera clock seconds")
    at_time: datetime | None = Field(None, description="Wall clock (UTC)")
    pictures: list[EvidenceRef]
    announcement: AnnouncementRecord | None
    voice: EvidenceRef | None = Field(None, description="The warning's clip as played (WAV).")


class EpisodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    node_id: str
    camera_id: str
    zone_id: str
    zone_name: str
    vehicle_class: str
    plate: str | None
    state: str
    first_seen_at: datetime
    violation_at: datetime | None
    ended_at: datetime | None
    review_deadline: datetime | None
    overdue: bool = False
    decided_by: str | None
    decided_at: datetime | None
    dismiss_reason: str | None
    dismiss_note: str | None
    ticket_number: str | None


class EpisodeDetail(EpisodeOut):
    evidence: list[EvidenceStepOut]
    audit: list[AuditOut]
    record: EpisodeRecord


class ReasonOut(BaseModel):
    code: str
    label: str
    needs_note: bool


class NodeOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    node_id: str
    online: bool
    version: str
    cameras: list
    status_at: datetime | None


class UserIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    role: Role
    display_name: str = Field("", max_length=128)


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    username: str
    role: str
    display_name: str
    active: bool
