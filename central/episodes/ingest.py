"""Ingest: what the MQTT consumer calls for every episode, evidence and status message.

Idempotent on the message id (design.md, "Delivery"): the id is inserted in the same
transaction as its effect, so a re-delivered or twice-consumed message changes nothing, also
when two central workers race on it. Episode payloads are full snapshots; a snapshot older
than the one stored (lower `seq`) still counts as applied but cannot move data backwards,
and the workflow only moves forward.

Messages are applied in batches (`ingest_batch`), one transaction for up to a hundred of
them: a commit (an fsync on PostgreSQL) and the round trips to look up ids and episodes are
paid once per batch, not once per message. The batch takes its locks in one order (the
episodes it touches, by id, before anything is inserted), so two workers on PostgreSQL
never deadlock. It does not wait for an episode another worker holds: the shared
subscription deals a node's messages to both workers in turn, so after an outage their
batches touch the same episodes, and a worker that waited while holding its own locks made
the other wait for those in turn. The messages of a busy episode are
applied right after, in a second transaction that waits for it once the first has
committed and released everything it held. Snapshots carry their `seq` and the workflow
only moves forward, so applying them after the rest changes nothing. A message the centre
can never accept (`IngestError`: another node's episode) is answered in the batch and
leaves no trace in it; anything else that fails (a value the database refuses) fails the
whole transaction, and the caller applies the batch again one message at a time to find
the bad one.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from pydantic import ValidationError
from sqlalchemy import JSON, String, TypeDecorator, insert, select, tuple_
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


@dataclass(frozen=True)
class EvidenceItem:
    """An evidence picture checked and in the evidence store, its index row still to write
    (`prepare_evidence`)."""

    node_id: str
    episode_id: str
    name: str
    sha256: str
    size: int
    content_type: str


Item = EpisodePayload | EvidenceItem | StatusPayload
Outcome = IngestResult | IngestError


def _parse(model: type[Any], payload: Any) -> Any:
    if isinstance(payload, model):
        return payload
    try:
        if isinstance(payload, bytes | bytearray | str):
            return model.model_validate_json(payload)
        return model.model_validate(payload)
    except ValidationError as exc:
        raise IngestError(f"invalid {model.SCHEMA_NAME} payload: {exc}") from exc


def ingest_batch(centre: Centre, items: Sequence[Item]) -> list[Outcome]:
    """Apply `items` in one transaction, in order; one outcome per item: an `IngestResult`,
    or the `IngestError` that refuses it (nothing of it was written). Raises what the
    database raises (the whole batch is then rolled back); a unique-key race with another
    worker is retried here, and the ids it committed meanwhile come out as duplicates."""
    if not items:
        return []
    now = centre.clock.now()
    outcomes = _apply_in_transaction(centre, items, now, wait_for_busy=False)
    busy = [n for n, outcome in enumerate(outcomes) if outcome is BUSY]
    if busy:
        later = _apply_in_transaction(centre, [items[n] for n in busy], now, wait_for_busy=True)
        for n, outcome in zip(busy, later, strict=True):
            outcomes[n] = outcome
    deadlines = [o.deadline for o in outcomes if isinstance(o, IngestResult) and o.deadline]
    if deadlines:
        centre.deadline_added(min(deadlines))
    for outcome, item in zip(outcomes, items, strict=True):
        if isinstance(outcome, IngestResult) and outcome.detail == "conflict":
            assert isinstance(item, EvidenceItem)
            log.warning(
                "evidence %s/%s re-sent with other bytes; kept the first",
                item.episode_id,
                item.name,
            )
    return cast(list[Outcome], outcomes)  # the second transaction waited: nothing is BUSY


def _apply_in_transaction(
    centre: Centre, items: Sequence[Item], now: datetime, *, wait_for_busy: bool
) -> list[Outcome | _Busy]:
    """`_apply_batch` in a transaction of its own; a unique-key race with another worker
    (both inserting one new episode) is retried."""
    for attempt in range(_RETRIES):
        try:
            with centre.db.session() as session:
                return _apply_batch(
                    session, items, now, centre.settings.review_window_s, wait_for_busy
                )
        except IntegrityError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


class _Busy:
    """The outcome of an item whose episode another worker holds: apply it again later."""


BUSY = _Busy()


def _apply_batch(
    session: Session,
    items: Sequence[Item],
    now: datetime,
    review_window_s: float,
    wait_for_busy: bool,
) -> list[Outcome | _Busy]:
    episode_messages = [i for i in items if isinstance(i, EpisodePayload)]
    pictures = [i for i in items if isinstance(i, EvidenceItem)]
    # 1. Lock every episode the batch touches, in id order (PostgreSQL: no deadlock between
    #    workers; SQLite has one writer and ignores FOR UPDATE). Unless `wait_for_busy`,
    #    skip those another worker holds: their items come out BUSY.
    wanted = sorted({m.episode_id for m in episode_messages} | {p.episode_id for p in pictures})
    episodes: dict[str, Episode | _NewEpisode] = {}
    busy: set[str] = set()
    if wanted:
        found = session.scalars(
            select(Episode)
            .where(Episode.id.in_(wanted))
            .order_by(Episode.id)
            .with_for_update(skip_locked=not wait_for_busy)
        )
        episodes = {e.id: e for e in found}
        unlocked = [key for key in wanted if key not in episodes]
        if unlocked and not wait_for_busy and session.get_bind().dialect.name == "postgresql":
            # not locked by us: new, or held by another worker (it exists)
            busy = set(session.scalars(select(Episode.id).where(Episode.id.in_(unlocked))))
    # 2. Which message ids were applied before (re-deliveries); which evidence is indexed.
    seen: set[str] = set()
    if episode_messages:
        ids = [str(m.id) for m in episode_messages]
        seen = set(session.scalars(select(IngestedMessage.id).where(IngestedMessage.id.in_(ids))))
    indexed: dict[tuple[str, str, str], str] = {}
    if pictures:
        keys = {(p.node_id, p.episode_id, p.name) for p in pictures}
        rows = session.execute(
            select(Evidence.node_id, Evidence.episode_id, Evidence.name, Evidence.sha256).where(
                tuple_(Evidence.node_id, Evidence.episode_id, Evidence.name).in_(sorted(keys))
            )
        )
        indexed = {(n, e, name): sha for n, e, name, sha in rows}
    # 3. Apply in arrival order, in memory; new episodes are added in id order at the end.
    outcomes: list[Outcome | _Busy] = []
    fresh: list[dict[str, Any]] = []
    new_episodes: dict[str, _NewEpisode] = {}
    new_evidence: list[dict[str, Any]] = []
    with session.no_autoflush:
        for item in items:
            if isinstance(item, EpisodePayload | EvidenceItem) and item.episode_id in busy:
                outcomes.append(BUSY)
                continue
            try:
                if isinstance(item, EpisodePayload):
                    message_id = str(item.id)
                    if message_id in seen:
                        outcomes.append(IngestResult(False, item.episode_id, None, "duplicate"))
                        continue
                    result = _apply_episode(
                        session, episodes, new_episodes, item, now, review_window_s
                    )
                    seen.add(message_id)
                    fresh.append(
                        {
                            "id": message_id,
                            "kind": "episode",
                            "node_id": item.node_id,
                            "seq": item.seq,
                            "received_at": now,
                        }
                    )
                elif isinstance(item, EvidenceItem):
                    result = _apply_evidence(episodes, indexed, new_evidence, item, now)
                else:
                    result = _apply_status(session, item, now)
            except IngestError as exc:
                outcomes.append(exc)
                continue
            outcomes.append(result)
    # 4. Write, each kind in key order: the new episodes, the changes to the others and the
    #    audit rows, the message ids (the idempotency keys), the evidence index. Core
    #    inserts on the session's connection: no autoflush, no ORM bookkeeping per row.
    if new_episodes:
        _insert_many(session, Episode, [new_episodes[key].row() for key in sorted(new_episodes)])
    session.flush()
    if fresh:
        _insert_many(session, IngestedMessage, sorted(fresh, key=lambda row: row["id"]))
    if new_evidence:
        _insert_many(session, Evidence, new_evidence)
    return outcomes


def _insert_many(session: Session, model: type[Any], rows: list[dict[str, Any]]) -> None:
    """Insert `rows` in one statement. PostgreSQL: ``INSERT ... SELECT FROM unnest(arrays)``,
    one array per column: one round trip for the batch, and the statement's text is the
    same for any number of rows (an executemany is a statement per row; a multi-row VALUES
    is a new text, parsed again, for each size). SQLite, in-process: a Core executemany."""
    connection = session.connection()
    dialect = connection.dialect
    table = model.__table__
    if dialect.name != "postgresql":
        connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    casts = []
    params: dict[str, list[Any]] = {}
    for n, name in enumerate(columns):
        column_type = table.c[name].type
        # Text, not varchar(n): a cast to varchar(n) would cut a long value short, where the
        # insert into the column refuses it. Binary parameters: no array escaping.
        sql_type = "TEXT" if isinstance(column_type, String) else column_type.compile(dialect)
        casts.append(f"%(c{n})b::{sql_type}[]")
        values = [row[name] for row in rows]
        process = column_type.bind_processor(dialect)
        if isinstance(column_type, TypeDecorator):
            values = [column_type.process_bind_param(v, dialect) for v in values]
        elif isinstance(column_type, JSON):
            values = [None if v is None else json.dumps(v) for v in values]
        elif process is not None:
            values = [process(v) for v in values]
        params[f"c{n}"] = [str(v) if isinstance(v, str) else v for v in values]  # StrEnum
    quoted = ", ".join(dialect.identifier_preparer.quote(c) for c in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({quoted}) SELECT * FROM unnest({', '.join(casts)})", params
    )


RECORD_FIELDS = frozenset(EpisodeRecord.model_fields)


@dataclass
class _NewEpisode:
    """An episode first heard of in this batch: a plain row until it is inserted (the ORM's
    bookkeeping for an object costs more than the row's share of a bulk insert). Same
    attribute names as `Episode`, so the transitions below work on either."""

    id: str
    node_id: str
    camera_id: str
    last_event: str
    last_seq: int
    state: str
    first_seen_at: datetime
    updated_at: datetime
    record: dict[str, Any]
    zone_id: str = ""
    zone_name: str = ""
    vehicle_class: str = ""
    plate: str | None = None
    violation_at: datetime | None = None
    ended_at: datetime | None = None
    review_deadline: datetime | None = None

    def row(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _apply_episode(
    session: Session,
    episodes: dict[str, Episode | _NewEpisode],
    new_episodes: dict[str, _NewEpisode],
    message: EpisodePayload,
    now: datetime,
    review_window_s: float,
) -> IngestResult:
    """One snapshot onto `episodes` (the batch's rows, by id); a new episode also goes into
    `new_episodes`, inserted by the caller."""
    occurred = message.occurred_at or message.sent_at
    record = message.model_dump(mode="json", include=RECORD_FIELDS)  # the record, no envelope
    episode = episodes.get(message.episode_id)
    _owned(episode, message.node_id)
    if episode is None:
        episode = _NewEpisode(
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
        _describe(episode, message, record)
        episodes[episode.id] = new_episodes[episode.id] = episode
    elif message.seq > episode.last_seq:
        _describe(episode, message, record)
        episode.updated_at = now
    detail = "" if message.seq >= episode.last_seq else "stale snapshot"
    episode.first_seen_at = min(episode.first_seen_at, occurred)
    made_deadline = _advance(session, episode, message, occurred, now, review_window_s)
    deadline = episode.review_deadline if made_deadline else None
    return IngestResult(True, episode.id, episode.state, detail, deadline)


def _describe(
    episode: Episode | _NewEpisode, message: EpisodePayload, record: dict[str, Any]
) -> None:
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
    episode: Episode | _NewEpisode,
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
        move(session, _as_episode(episode), ReviewState.pending_review, actor, now, "violation")
        episode.violation_at = occurred
        # The deadline runs from arrival: officers cannot review what has not reached them.
        episode.review_deadline = now + timedelta(seconds=review_window_s)
        return True
    if message.event in ("dissuaded", "cleared", "expired"):
        move(session, _as_episode(episode), ReviewState(message.event), actor, now, message.event)
        episode.ended_at = occurred
    return False


def _as_episode(episode: Episode | _NewEpisode) -> Episode:
    """`move` reads and sets only `id`, `state` and `updated_at`, which both have."""
    return episode  # type: ignore[return-value]


def _apply_evidence(
    episodes: dict[str, Episode | _NewEpisode],
    indexed: dict[tuple[str, str, str], str],
    new_rows: list[dict[str, Any]],
    item: EvidenceItem,
    now: datetime,
) -> IngestResult:
    _owned(episodes.get(item.episode_id), item.node_id)
    key = (item.node_id, item.episode_id, item.name)
    existing = indexed.get(key)
    if existing is not None:
        same = existing == item.sha256
        return IngestResult(False, item.episode_id, None, "duplicate" if same else "conflict")
    indexed[key] = item.sha256
    new_rows.append(
        {
            "node_id": item.node_id,
            "episode_id": item.episode_id,
            "name": item.name,
            "sha256": item.sha256,
            "size": item.size,
            "content_type": item.content_type,
            "received_at": now,
        }
    )
    return IngestResult(True, item.episode_id, None)


def _apply_status(session: Session, message: StatusPayload, now: datetime) -> IngestResult:
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


def _one(centre: Centre, item: Item) -> IngestResult:
    (outcome,) = ingest_batch(centre, [item])
    if isinstance(outcome, IngestError):
        raise outcome
    return outcome


def ingest_episode(centre: Centre, payload: EpisodePayload | bytes | str | dict) -> IngestResult:
    """Apply one episode transition. Returns what happened; raises IngestError on bad input."""
    return _one(centre, _parse(EpisodePayload, payload))


def prepare_evidence(
    centre: Centre,
    data: bytes,
    meta: EvidenceMeta | bytes | str | dict | None = None,
    *,
    episode_id: str | None = None,
    name: str | None = None,
    node_id: str | None = None,
) -> EvidenceItem:
    """Check one evidence JPEG and put it in the evidence store; its index row is written by
    `ingest_batch`. The bytes go first: a committed row always has its picture.

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
    with centre.db.session() as session:  # checked again in the batch; here to store nothing
        _owned(session.get(Episode, episode_id), node_id)
    try:
        centre.evidence.put(data)
    except EvidenceError as exc:  # pragma: no cover - put only raises on a bad key
        raise IngestError(str(exc)) from exc
    content_type = parsed.content_type if parsed else "image/jpeg"
    return EvidenceItem(node_id, episode_id, name, digest, len(data), content_type)


def ingest_evidence(
    centre: Centre,
    data: bytes,
    meta: EvidenceMeta | bytes | str | dict | None = None,
    *,
    episode_id: str | None = None,
    name: str | None = None,
    node_id: str | None = None,
) -> IngestResult:
    """Store one evidence JPEG and index it under its node and `<episode-id>/<name>`
    (`prepare_evidence`, then a batch of one)."""
    item = prepare_evidence(centre, data, meta, episode_id=episode_id, name=name, node_id=node_id)
    return _one(centre, item)


def ingest_status(centre: Centre, payload: StatusPayload | bytes | str | dict) -> IngestResult:
    """Birth/death of a node. A death whose restart counter is older than the node's last
    birth is a stale last will (the node already came back) and is ignored."""
    return _one(centre, _parse(StatusPayload, payload))
