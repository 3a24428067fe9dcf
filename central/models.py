"""Persistence models (SQLAlchemy 2). API schemas live apart, in `central.schemas`.

The schema itself is created and changed only by the Alembic migrations in
`central/migrations`; a test checks that these models and the migrations agree.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from central.clock import utc
from mqtt.payloads import EpisodeRecord


class UTCDateTime(TypeDecorator[datetime]):
    """Stored as naive UTC everywhere, returned aware: SQLite has no time zones, and mixing
    aware and naive values is a bug waiting for a daylight-saving night."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else utc(value)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Role(enum.StrEnum):
    officer = "officer"
    supervisor = "supervisor"
    warden = "warden"
    admin = "admin"


class ReviewState(enum.StrEnum):
    """An episode's state at the centre. `active` and the endings without a violation come
    from the edge; the review states belong to the officers' workflow. `expired` (the zone's
    schedule ended with the vehicle still there) is no success and never counts as one."""

    active = "active"
    cleared = "cleared"
    dissuaded = "dissuaded"
    expired = "expired"
    pending_review = "pending_review"
    ticketed = "ticketed"
    dismissed = "dismissed"
    escalated = "escalated"


OPEN_REVIEW_STATES = (ReviewState.pending_review, ReviewState.escalated)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    # Road wardens' routing: a warden's urgent report goes to the officers of the
    # same squad; officers without a squad see every squad's reports.
    township: Mapped[str | None] = mapped_column(String(64), nullable=True)
    squad: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    # The language this user chose on the pages (zh_CN, en); None: the deployment's default.
    language: Mapped[str | None] = mapped_column(String(8), nullable=True)


class LoginSession(Base):
    """A signed-in browser, kept at the centre so that logging out, deactivating an account
    or changing its password ends it at once, on every worker. The cookie holds a random
    token; only its sha256 is stored, so the table's contents cannot be replayed."""

    __tablename__ = "login_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    address: Mapped[str] = mapped_column(String(64), default="")

    user: Mapped[User] = relationship()


class LoginThrottle(Base):
    """Wrong passwords counted per account, per address and per (account, address), shared
    by every worker (`central.throttle`)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    first_at: Mapped[datetime]
    locked_until: Mapped[datetime | None] = mapped_column(nullable=True)


class Node(Base):
    """An edge node as last heard of through its retained birth/death status."""

    __tablename__ = "nodes"

    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    online: Mapped[bool] = mapped_column(default=False)
    version: Mapped[str] = mapped_column(String(64), default="")
    cameras: Mapped[list[Any]] = mapped_column(default=list)
    birth_seq: Mapped[int | None] = mapped_column(Integer, nullable=True)
    status_at: Mapped[datetime | None] = mapped_column(nullable=True)
    updated_at: Mapped[datetime]


class Episode(Base):
    """One vehicle in one no-parking zone, as the edge reported it, plus its review."""

    __tablename__ = "episodes"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), index=True)
    camera_id: Mapped[str] = mapped_column(String(128), index=True)
    zone_id: Mapped[str] = mapped_column(String(128), default="")
    zone_name: Mapped[str] = mapped_column(String(256), default="")
    vehicle_class: Mapped[str] = mapped_column(String(32), default="")
    plate: Mapped[str | None] = mapped_column(String(32), nullable=True)
    last_event: Mapped[str] = mapped_column(String(16))
    last_seq: Mapped[int] = mapped_column(BigInteger, default=-1)
    state: Mapped[str] = mapped_column(String(16), index=True)
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    violation_at: Mapped[datetime | None] = mapped_column(nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(nullable=True)
    review_deadline: Mapped[datetime | None] = mapped_column(nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_at: Mapped[datetime | None] = mapped_column(nullable=True)
    dismiss_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    dismiss_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    ticket_number: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    # Who has the review open right now, until when: shown to the other officers.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(nullable=True)
    record: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the newest EpisodeRecord

    audit: Mapped[list[AuditEntry]] = relationship(
        back_populates="episode", order_by="AuditEntry.id"
    )

    @property
    def snapshot(self) -> EpisodeRecord:
        """The edge's newest record of this episode, typed (as stored by ingest)."""
        return EpisodeRecord.model_validate(self.record)

    __table_args__ = (Index("ix_episodes_state_deadline", "state", "review_deadline"),)


class IngestedMessage(Base):
    """Every message id ever applied: the ingest's idempotency key (design.md, delivery)."""

    __tablename__ = "ingested_messages"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    node_id: Mapped[str] = mapped_column(String(128))
    seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    received_at: Mapped[datetime]


class Evidence(Base):
    """One evidence file of an episode. It may arrive before the episode's message, so no
    foreign key: the event page joins on the node, the episode id and the reference name.
    The node is part of the key so that a node cannot slip a picture into another node's
    episode by using its id: it would be filed under its own node and never shown there."""

    __tablename__ = "evidence"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128), default="")
    episode_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(256))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    content_type: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime]

    __table_args__ = (
        UniqueConstraint("node_id", "episode_id", "name", name="uq_evidence_node_episode_name"),
    )


class EvidenceBlob(Base):
    """Evidence bytes kept in the database (`EvidenceConfig.backend: database`), by their
    sha256: every centre machine on the same database serves every picture, with nothing
    but the database and the broker to share. Content-addressed, so a re-delivered or
    shared picture is one row."""

    __tablename__ = "evidence_blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    stored_at: Mapped[datetime]


class DeadLetter(Base):
    """A message the centre will never store (bad values, off the contract, a node writing
    about another node's episode), kept as it came with the reason, for an admin to read.
    It was acknowledged (to the broker and, by receipt, to the node) so it blocks nothing."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    topic: Mapped[str] = mapped_column(Text)
    node_id: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(String(64), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    payload_size: Mapped[int] = mapped_column(Integer)
    meta: Mapped[str | None] = mapped_column(Text, nullable=True)  # evidence: the user property


class AuditEntry(Base):
    """Who moved what from which state to which, when and why. Append-only."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    episode_id: Mapped[str | None] = mapped_column(
        ForeignKey("episodes.id"), nullable=True, index=True
    )
    report_id: Mapped[int | None] = mapped_column(
        ForeignKey("reports.id", name="fk_audit_report_id"), nullable=True, index=True
    )
    subject: Mapped[str] = mapped_column(String(32), default="episode")  # episode|report|account
    # The account an admin acted on (subject "account"): deactivated, new password, keys.
    account: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    from_state: Mapped[str | None] = mapped_column(String(16), nullable=True)
    to_state: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(String(64), default="")
    note: Mapped[str] = mapped_column(Text, default="")

    episode: Mapped[Episode | None] = relationship(back_populates="audit")
    report: Mapped[WardenReport | None] = relationship(back_populates="audit")


class ReportState(enum.StrEnum):
    """A warden report's life at the centre (design.md, "Central workflow")."""

    new = "new"
    acknowledged = "acknowledged"
    dispatched = "dispatched"
    resolved = "resolved"
    rejected = "rejected"


OPEN_REPORT_STATES = (ReportState.new, ReportState.acknowledged, ReportState.dispatched)


# Report ids are an INTEGER column: 32 bits on PostgreSQL. A larger number in a URL is no
# report, not a query the driver refuses with a 500.
MAX_REPORT_ID = 2**31 - 1


class WardenReport(Base):
    """One road-warden field report: an Open311 service request with RoadGuard's states.

    The category's name, urgency and attribute values are copied in at filing time, so a
    later change of the county's category list does not rewrite history."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    service_name: Mapped[str] = mapped_column(String(128))
    urgent: Mapped[bool] = mapped_column(default=False)
    state: Mapped[str] = mapped_column(String(16), index=True)
    description: Mapped[str] = mapped_column(Text, default="")
    attributes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    lat: Mapped[float | None] = mapped_column(Float, nullable=True)
    long: Mapped[float | None] = mapped_column(Float, nullable=True)
    address_string: Mapped[str | None] = mapped_column(String(256), nullable=True)
    location_source: Mapped[str] = mapped_column(String(16))  # exif | device | typed
    media_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    media_type: Mapped[str | None] = mapped_column(String(32), nullable=True)
    media_size: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reporter: Mapped[str] = mapped_column(String(64), index=True)
    township: Mapped[str | None] = mapped_column(String(64), nullable=True)
    squad: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    requested_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]
    ack_deadline: Mapped[datetime | None] = mapped_column(nullable=True)
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    escalated_to: Mapped[str | None] = mapped_column(String(16), nullable=True)
    acknowledged_at: Mapped[datetime | None] = mapped_column(nullable=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    status_notes: Mapped[str] = mapped_column(Text, default="")

    audit: Mapped[list[AuditEntry]] = relationship(
        back_populates="report", order_by="AuditEntry.id"
    )

    __table_args__ = (Index("ix_reports_state_deadline", "state", "ack_deadline"),)

    @property
    def awaits_urgent_ack(self) -> bool:
        """Urgent and nobody has acted on it yet: what the banners count."""
        return self.urgent and self.state == ReportState.new


class ApiKey(Base):
    """An Open311 client's key, acting as one user. Only the key's sha256 is stored: a leaked
    database does not leak working keys."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(128), default="")
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(nullable=True)
