"""Validation for anything that receives our messages (the centre, a node's command inbox).

A receiver must survive whatever arrives: a malformed document, a major version it does not
know, a node writing about another node. Each of those is rejected with a reason, logged,
counted by reason, and the receiver goes on; nothing here raises to the caller except from
`validate_document`, which is the strict building block.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from mqtt.payloads import (
    BY_SCHEMA_NAME,
    EVIDENCE_CONTENT_TYPES,
    EVIDENCE_META_PROPERTY,
    Command,
    CommandAck,
    Episode,
    Evidence,
    Health,
    NodePayload,
    Payload,
    Receipt,
    Status,
    parse_schema,
)
from mqtt.topics import Topic, TopicError, parse_topic

log = logging.getLogger(__name__)

MAX_DOCUMENT_BYTES = 1024 * 1024  # a JSON payload larger than this is not ours

KIND_TYPES: dict[str, type[Payload]] = {
    "status": Status,
    "health": Health,
    "episode": Episode,
    "evidence": Evidence,
    "cmd": Command,
    "ack": CommandAck,
    "receipts": Receipt,
}


class Rejected(ValueError):
    """A message that does not fit the contract. `category` is a short, countable reason."""

    def __init__(self, category: str, detail: str) -> None:
        super().__init__(f"{category}: {detail}")
        self.category = category
        self.detail = detail


@dataclass(frozen=True)
class Received:
    topic: Topic
    payload: Payload
    data: bytes | None = None  # the JPEG of an evidence message


def validate_document(document: bytes | str | dict[str, Any]) -> Payload:
    """JSON (bytes, str or already parsed) -> the payload model its `schema` names.
    Raises Rejected; unknown fields are ignored, unknown major versions are not."""
    if isinstance(document, bytes | str):
        if len(document) > MAX_DOCUMENT_BYTES:
            raise Rejected("too-large", f"{len(document)} bytes")
        try:
            document = json.loads(document)
        except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
            raise Rejected("not-json", str(exc)[:200]) from None
    if not isinstance(document, dict):
        raise Rejected("not-an-object", f"a JSON {type(document).__name__}")
    schema = document.get("schema")
    if not isinstance(schema, str):
        raise Rejected("no-schema", "missing or non-string 'schema'")
    try:
        name, major = parse_schema(schema)
    except ValueError as exc:
        raise Rejected("bad-schema", str(exc)) from None
    model = BY_SCHEMA_NAME.get(name)
    if model is None:
        raise Rejected("unknown-schema", f"unknown payload {name!r}")
    if major != model.MAJOR:
        raise Rejected("unknown-major", f"{name} major {major}; this receiver knows {model.MAJOR}")
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise Rejected(
            "invalid",
            f"{exc.error_count()} error(s), first at {where}: {first.get('msg', '')}"[:300],
        ) from None
    except (RecursionError, OverflowError) as exc:
        raise Rejected("invalid", type(exc).__name__) from None


def user_properties(properties: Any) -> dict[str, str]:
    """MQTT v5 user properties of a paho message as a dict (None/absent: empty)."""
    pairs = getattr(properties, "UserProperty", None) or []
    return {str(k): str(v) for k, v in pairs}


def content_type(properties: Any) -> str | None:
    value = getattr(properties, "ContentType", None)
    return str(value) if value is not None else None


def validate_message(topic: str, payload: bytes, properties: Any = None) -> Received:
    """One MQTT message -> Received, checking the topic against the payload (kind, node,
    camera) so a message cannot claim to be from a node other than the one in its topic."""
    try:
        where = parse_topic(topic)
    except TopicError as exc:
        raise Rejected("bad-topic", str(exc)) from None
    data: bytes | None = None
    if where.kind == "evidence":
        meta = user_properties(properties).get(EVIDENCE_META_PROPERTY)
        if meta is None:
            raise Rejected("no-evidence-meta", f"no '{EVIDENCE_META_PROPERTY}' user property")
        kind_of_content = content_type(properties)
        if kind_of_content is not None and kind_of_content not in EVIDENCE_CONTENT_TYPES.values():
            raise Rejected("bad-content-type", repr(kind_of_content))
        document: bytes | str = meta
        data = bytes(payload)
    else:
        document = bytes(payload)
    message = validate_document(document)
    expected = KIND_TYPES[where.kind]
    if not isinstance(message, expected):
        raise Rejected("wrong-topic", f"{message.schema_} on a {where.kind} topic")
    if isinstance(message, NodePayload | Command | Receipt) and message.node_id != where.node:
        raise Rejected("wrong-node", f"payload of {message.node_id!r} on {where.node!r}'s topic")
    camera = getattr(message, "camera_id", None)
    if where.camera is not None and camera != where.camera:
        raise Rejected("wrong-camera", f"payload of {camera!r} on {where.camera!r}'s topic")
    if isinstance(message, Command | CommandAck) and message.verb != where.verb:
        raise Rejected("wrong-verb", f"{message.verb!r} on the {where.verb!r} topic")
    if isinstance(message, Evidence):
        assert data is not None
        if (message.episode_id, message.name) != (where.episode_id, where.name):
            raise Rejected("wrong-evidence", f"{message.reference} on {topic}")
        if len(data) != message.size or hashlib.sha256(data).hexdigest() != message.sha256:
            raise Rejected("corrupt-evidence", f"{message.reference}: size or sha256 differ")
    return Received(where, message, data)


class Receiver:
    """`accept()` never raises: a rejected message is logged with its reason and counted in
    `rejected` (by category); `accepted` counts the good ones."""

    def __init__(self, logger: logging.Logger = log) -> None:
        self.log = logger
        self.accepted = 0
        self.rejected: Counter[str] = Counter()

    def accept(self, topic: str, payload: bytes, properties: Any = None) -> Received | None:
        try:
            received = validate_message(topic, payload, properties)
        except Rejected as exc:
            self.rejected[exc.category] += 1
            self.log.warning("rejected message on %r: %s", topic[:200], exc)
            return None
        except Exception as exc:  # a bug must not stop the receiver; count and say so
            self.rejected["internal-error"] += 1
            self.log.exception("receiver failed on %r: %s", topic[:200], exc)
            return None
        self.accepted += 1
        return received

    @property
    def rejected_total(self) -> int:
        return sum(self.rejected.values())
