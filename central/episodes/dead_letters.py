"""Dead letters: messages the centre will never store, kept as they came, with the reason.

A message that can never be stored must neither block the ones behind it nor vanish: the
consumer writes it here, acknowledges it and tells its node (design.md, "Delivery"). An
admin reads them on `/admin/dead-letters`; `/metrics` counts them by reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.centre import Centre
from central.models import DeadLetter

MAX_KEPT_PAYLOAD = 1024 * 1024  # the first MiB of a payload is kept; its size is recorded


def _text(value: str, limit: int) -> str:
    """Text any database holds: no NUL, no lone surrogates (the message may be garbage)."""
    cleaned = value.replace("\x00", "\N{REPLACEMENT CHARACTER}")
    return cleaned.encode("utf-8", "replace").decode("utf-8")[:limit]


def dead_letter(
    centre: Centre,
    *,
    topic: str,
    payload: bytes,
    reason: str,
    detail: str,
    node_id: str | None = None,
    message_id: str | None = None,
    meta: str | None = None,
) -> DeadLetter:
    """One dead letter row, made safe for any database, not yet stored."""
    return DeadLetter(
        received_at=centre.clock.now(),
        topic=_text(topic, 1024),
        node_id=_text(node_id, 128) if node_id else None,
        message_id=_text(message_id, 64) if message_id else None,
        reason=_text(reason, 64),
        detail=_text(detail, 4000),
        payload=payload[:MAX_KEPT_PAYLOAD],
        payload_size=len(payload),
        meta=_text(meta, 65536) if meta is not None else None,
    )


def store_dead_letters(centre: Centre, rows: list[DeadLetter]) -> None:
    """Write dead letters (a consumer's batch has them) in one transaction."""
    with centre.db.session() as session:
        session.add_all(rows)


def store_dead_letter(centre: Centre, **fields: Any) -> int:
    """Write one dead letter (`dead_letter`'s fields) in its own transaction. Returns its id."""
    row = dead_letter(centre, **fields)
    with centre.db.session() as session:
        session.add(row)
        session.flush()
        return row.id


@dataclass(frozen=True)
class DeadLetterView:
    id: int
    received_at: datetime
    node_id: str | None
    topic: str
    reason: str
    detail: str
    payload_size: int
    preview: str  # the start of the payload as text, for a human


def recent_dead_letters(session: Session, limit: int = 200) -> list[DeadLetterView]:
    rows = session.scalars(select(DeadLetter).order_by(DeadLetter.id.desc()).limit(limit))
    return [
        DeadLetterView(
            row.id,
            row.received_at,
            row.node_id,
            row.topic,
            row.reason,
            row.detail,
            row.payload_size,
            _text(row.payload[:300].decode("utf-8", "replace"), 300),
        )
        for row in rows
    ]


def dead_letter_counts(session: Session) -> dict[str, int]:
    """Dead letters by reason."""
    rows = session.execute(select(DeadLetter.reason, func.count()).group_by(DeadLetter.reason))
    return {reason: count for reason, count in rows}
