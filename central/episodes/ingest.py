"""Ingest: what the MQTT consumer calls for every episode, evidence and status message.

Idempotent on the message id (design.md, "Delivery"): the id is inserted in the same
transaction as its effect, so a re-delivered or twice-consumed message changes nothing, also
when two central workers race on it. Episode payloads are full snapshots; a snapshot older
than the one stored (lower `seq`) still counts as applied but cannot move data backwards,
and the workflow only moves forward.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.audit import move
from central.centre import Centre
from central.evidence import EvidenceError, sha256_of
from central.models import Episode, Evidence, IngestedMessage, Node, ReviewState
from mqtt.payloads import Episode as EpisodePayload
from mqtt.payloads import EpisodeRecord
from mqtt.payloads import Evidence as EvidenceMeta
from mqtt.payloads import Status as StatusPayload

log = logging.getLogger(__name__)

_RETRIES = 3


class IngestError(ValueError):
    """A message the centre can never accept (invalid payload, bad evidence, another node's
    episode): permanent, so the consumer dead-letters it instead of retrying. `reason` is a
    short, countable category."""

    def __init__(self, detail: str, reason: str = "invalid") -> None:
        super().__init__(detail)
        self.reason = reason


def _owned(episode: Episode | None, node_id: str) -> None:
    """A node may only write its own episodes: an id that another node's episode already
    holds is refused, so no node can rewrite (state, plate, zone) what another reported."""
    if episode is not None and episode.node_id != node_id:
        raise IngestError(
            f"episode {episode.id} belongs to node {episode.node_id!r}, not {node_id!r}",
            "wrong-owner",
        )


@dataclass(frozen=True)
class IngestResult:
    applied: bool
    episode_id: str = ""
    state: str | None = None
    detail: str = ""  # "duplicate", "stale snapshot", ...
    deadline: datetime | None = None  # the review deadline, when this made one


def _parse(model: type[Any], payload: Any) -> Any:
    if isinstance(payload, model):
        return payload
    try:
        if isinstance(payload, bytes | bytearray | str):
            return model.model_validate_json(payload)
        return model.model_validate(payload)
    except ValidationError as exc:
        raise IngestError(f"invalid {model.SCHEMA_NAME} payload: {exc}") from exc


def _retrying(centre: Centre, message_id: str, apply: Any) -> Any:
    """Run `apply(session)` in a transaction; on a unique-key race, the message was either
    applied by another worker (duplicate) or the episode row was created under us (retry)."""
    for attempt in range(_RETRIES):
        try:
            with centre.db.session() as session:
                return apply(session)
        except IntegrityError:
            with centre.db.session() as session:
                if session.get(IngestedMessage, message_id) is not None:
                    return None
            if attempt == _RETRIES - 1:
                raise
    return None  # pragma: no cover


def ingest_episode(centre: Centre, payload: EpisodePayload | bytes | str | dict) -> IngestResult:
    """Apply one episode transition. Returns what happened; raises IngestError on bad input."""
    message: EpisodePayload = _parse(EpisodePayload, payload)
    message_id = str(message.id)
    now = centre.clock.now()

    def apply(session: Session) -> IngestResult:
        if session.get(IngestedMessage, message_id) is not None:
            return IngestResult(False, message.episode_id, None, "duplicate")
        session.add(
            IngestedMessage(
                id=message_id,
                kind="episode",
                node_id=message.node_id,
                seq=message.seq,
                received_at=now,
            )
        )
        session.flush()
        return _apply_episode(session, message, now, centre.settings.review_window_s)

    result = _retrying(centre, message_id, apply)
    if result is None:
        return IngestResult(False, message.episode_id, None, "duplicate")
    if result.deadline is not None:
        centre.deadline_added(result.deadline)
    return result


RECORD_FIELDS = frozenset(EpisodeRecord.model_fields)


def _apply_episode(
    session: Session, message: EpisodePayload, now: datetime, review_window_s: float
) -> IngestResult:
    occurred = message.occurred_at or message.sent_at
    record = message.model_dump(mode="json", include=RECORD_FIELDS)  # the record, no envelope
    episode = session.get(Episode, message.episode_id, with_for_update=True)
    _owned(episode, message.node_id)
    if episode is None:
        episode = Episode(
            id=message.episode_id,
            node_id=message.node_id,
            camera_id=message.camera_id,
            last_event=message.event,
            last_seq=message.seq,
            state=ReviewState.active,
            first_seen_at=occurred,
            updated_at=now,
            record=record,
        )
        session.add(episode)
        _describe(episode, message, record)
        session.flush()
    elif message.seq > episode.last_seq:
        _describe(episode, message, record)
        episode.updated_at = now
    detail = "" if message.seq >= episode.last_seq else "stale snapshot"
    episode.first_seen_at = min(episode.first_seen_at, occurred)
    made_deadline = _advance(session, episode, message, occurred, now, review_window_s)
    deadline = episode.review_deadline if made_deadline else None
    return IngestResult(True, episode.id, episode.state, detail, deadline)


def _describe(episode: Episode, message: EpisodePayload, record: dict[str, Any]) -> None:
    """Copy the descriptive fields of the newest snapshot; a plate once read is kept."""
    episode.zone_id = message.zone_id
    episode.zone_name = message.zone_name
    episode.vehicle_class = message.vehicle_class
    episode.plate = message.plate or episode.plate
    episode.last_event = message.event
    episode.last_seq = message.seq
    episode.record = record


def _advance(
    session: Session,
    episode: Episode,
    message: EpisodePayload,
    occurred: datetime,
    now: datetime,
    review_window_s: float,
) -> bool:
    """The edge's transitions into the centre's states; only ever out of `active`. True when
    a review deadline was set."""
    if episode.state != ReviewState.active:
        return False
    actor = f"node:{message.node_id}"
    if message.event == "violation":
        # The pages say what a system move means in the reader's language and time
        # (central.web.labels.REASONS); no prose is stored for it.
        move(session, episode, ReviewState.pending_review, actor, now, "violation")
        episode.violation_at = occurred
        # The deadline runs from arrival: officers cannot review what has not reached them.
        episode.review_deadline = now + timedelta(seconds=review_window_s)
        return True
    if message.event in ("dissuaded", "cleared", "expired"):
        move(session, episode, ReviewState(message.event), actor, now, message.event)
        episode.ended_at = occurred
    return False


def ingest_evidence(
    centre: Centre,
    data: bytes,
    meta: EvidenceMeta | bytes | str | dict | None = None,
    *,
    episode_id: str | None = None,
    name: str | None = None,
    node_id: str | None = None,
) -> IngestResult:
    """Store one evidence JPEG and index it under its node and `<episode-id>/<name>`.

    `meta` is the node's `Evidence` document (from the MQTT v5 user property); without it the
    node, episode id and name come from the topic. A hash that does not match the bytes is
    refused (a truncated transfer must not become evidence), and so is a picture for another
    node's episode. An `OSError` from the evidence store (a full disk) is left to the caller:
    it is transient, and the node sends the picture again."""
    parsed: EvidenceMeta | None = None if meta is None else _parse(EvidenceMeta, meta)
    episode_id = parsed.episode_id if parsed else episode_id
    name = parsed.name if parsed else name
    node_id = parsed.node_id if parsed else node_id
    if not episode_id or not name or not node_id:
        raise IngestError("evidence needs a node, an episode id and a name")
    if len(data) > centre.settings.evidence.max_bytes:
        raise IngestError(
            f"evidence {episode_id}/{name}: {len(data)} bytes is over the limit", "too-large"
        )
    digest = sha256_of(data)
    if parsed and parsed.sha256 != digest:
        raise IngestError(
            f"evidence {episode_id}/{name}: sha256 does not match its bytes", "corrupt-evidence"
        )
    with centre.db.session() as session:
        _owned(session.get(Episode, episode_id), node_id)
    try:
        centre.evidence.put(data)
    except EvidenceError as exc:  # pragma: no cover - put only raises on a bad key
        raise IngestError(str(exc)) from exc
    now = centre.clock.now()
    content_type = parsed.content_type if parsed else "image/jpeg"

    def apply(session: Session) -> IngestResult:
        existing = session.scalar(
            select(Evidence).where(
                Evidence.node_id == node_id,
                Evidence.episode_id == episode_id,
                Evidence.name == name,
            )
        )
        if existing is not None:
            same = existing.sha256 == digest
            return IngestResult(False, episode_id, None, "duplicate" if same else "conflict")
        session.add(
            Evidence(
                node_id=node_id,
                episode_id=episode_id,
                name=name,
                sha256=digest,
                size=len(data),
                content_type=content_type,
                received_at=now,
            )
        )
        session.flush()
        return IngestResult(True, episode_id, None)

    for attempt in range(_RETRIES):
        try:
            with centre.db.session() as session:
                result = apply(session)
            if result.detail == "conflict":
                log.warning(
                    "evidence %s/%s re-sent with other bytes; kept the first", episode_id, name
                )
            return result
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


def ingest_status(centre: Centre, payload: StatusPayload | bytes | str | dict) -> IngestResult:
    """Birth/death of a node. A death whose restart counter is older than the node's last
    birth is a stale last will (the node already came back) and is ignored."""
    message: StatusPayload = _parse(StatusPayload, payload)
    now = centre.clock.now()

    def apply(session: Session) -> IngestResult:
        node = session.get(Node, message.node_id, with_for_update=True)
        if node is None:
            node = Node(node_id=message.node_id, cameras=[], updated_at=now)
            session.add(node)
        stale = node.birth_seq is not None and message.restarts < node.birth_seq
        if message.state == "offline" and stale:
            return IngestResult(False, "", "online" if node.online else "offline", "stale")
        node.online = message.state == "online"
        node.version = message.software_version
        node.status_at = message.sent_at
        node.updated_at = now
        if node.online:
            node.birth_seq = message.restarts
            node.cameras = list(message.cameras)
        return IngestResult(True, "", message.state)

    for attempt in range(_RETRIES):
        try:
            with centre.db.session() as session:
                return apply(session)
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
