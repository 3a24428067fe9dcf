"""The topic layout of design.md, built and parsed in one place.

    roadguard/v1/<node>/status                                  retained birth/death
    roadguard/v1/<node>/health                                  periodic health
    roadguard/v1/<node>/<camera>/episode                        episode transitions
    roadguard/v1/<node>/<camera>/evidence/<episode-id>/<name>   JPEG bytes
    roadguard/v1/<node>/cmd/<verb>                              centre -> node
    roadguard/v1/<node>/ack/<verb>                              node -> centre, a command's ack
    roadguard/v1/<node>/receipts                                centre -> node, end-to-end acks

The ack and the receipts live under the node's own prefix because the broker's ACL confines a
node to it. A camera may not be named `status`, `health`, `cmd`, `ack` or `receipts`, or its
topics would be ambiguous; every level is checked so no `+`, `#` or `/` can slip in from an id.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mqtt.payloads import FILE_NAME_PATTERN, RESERVED_SEGMENTS, SEGMENT_PATTERN

ROOT = "roadguard/v1"
CENTRAL_SHARE_GROUP = "central"

_SEGMENT = re.compile(SEGMENT_PATTERN)
_FILE_NAME = re.compile(FILE_NAME_PATTERN)


class TopicError(ValueError):
    """A topic or topic level that does not fit the layout."""


def _level(value: str, what: str) -> str:
    if not _SEGMENT.fullmatch(value):
        raise TopicError(f"{what} {value!r} is not a valid topic level ({SEGMENT_PATTERN})")
    return value


def _camera(value: str) -> str:
    _level(value, "camera id")
    if value in RESERVED_SEGMENTS:
        raise TopicError(
            f"camera id {value!r} is reserved for the node's own topics "
            f"({', '.join(sorted(RESERVED_SEGMENTS))})"
        )
    return value


def check_id(value: str, what: str) -> str:
    """A node or zone id that the contract can carry (one topic level, a payload field):
    what site configs are validated with, so an id the topics refuse never gets that far."""
    if not _SEGMENT.fullmatch(value):
        raise TopicError(
            f"{what} {value!r} must be 1-64 letters, digits, '_' or '-' (it is part of the "
            "MQTT topics and messages)"
        )
    return value


def check_camera_id(value: str) -> str:
    """A camera id the contract can carry: a valid id that does not name a topic of the
    node's own (`.../<node>/health` is the node's health, never a camera called health)."""
    check_id(value, "camera id")
    return _camera(value)


def node_prefix(node: str) -> str:
    return f"{ROOT}/{_level(node, 'node id')}"


def status_topic(node: str) -> str:
    return f"{node_prefix(node)}/status"


def health_topic(node: str) -> str:
    return f"{node_prefix(node)}/health"


def episode_topic(node: str, camera: str) -> str:
    return f"{node_prefix(node)}/{_camera(camera)}/episode"


def evidence_topic(node: str, camera: str, episode_id: str, name: str) -> str:
    if not _FILE_NAME.fullmatch(name) or name in (".", ".."):
        raise TopicError(f"evidence name {name!r} is not a valid file name")
    return (
        f"{node_prefix(node)}/{_camera(camera)}/evidence/{_level(episode_id, 'episode id')}/{name}"
    )


def command_topic(node: str, verb: str) -> str:
    return f"{node_prefix(node)}/cmd/{_level(verb, 'verb')}"


def ack_topic(node: str, verb: str) -> str:
    return f"{node_prefix(node)}/ack/{_level(verb, 'verb')}"


def receipts_topic(node: str) -> str:
    """Where the centre says which of the node's messages it has committed."""
    return f"{node_prefix(node)}/receipts"


# -- subscriptions ----------------------------------------------------------------------------
def command_subscription(node: str) -> str:
    """What a node subscribes to for its commands."""
    return f"{node_prefix(node)}/cmd/+"


def shared(topic_filter: str, group: str = CENTRAL_SHARE_GROUP) -> str:
    """An MQTT v5 shared subscription: the broker hands each message to one group member."""
    return f"$share/{_level(group, 'share group')}/{topic_filter}"


ALL_EPISODES = f"{ROOT}/+/+/episode"
ALL_EVIDENCE = f"{ROOT}/+/+/evidence/#"
ALL_STATUS = f"{ROOT}/+/status"
ALL_HEALTH = f"{ROOT}/+/health"
ALL_ACKS = f"{ROOT}/+/ack/+"
CENTRAL_EPISODES = shared(ALL_EPISODES)  # $share/central/roadguard/v1/+/+/episode
CENTRAL_EVIDENCE = shared(ALL_EVIDENCE)


# -- parsing ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Topic:
    """A parsed topic: `kind` is status, health, episode, evidence, cmd, ack or receipts."""

    kind: str
    node: str
    camera: str | None = None
    episode_id: str | None = None
    name: str | None = None  # evidence file name
    verb: str | None = None  # cmd and ack


def parse_topic(topic: str) -> Topic:
    """The inverse of the builders; TopicError for anything outside the layout."""
    root, _, rest = topic.partition(f"{ROOT}/")
    if root or not rest:
        raise TopicError(f"topic {topic!r} is not under {ROOT}/")
    levels = rest.split("/")
    try:
        node = _level(levels[0], "node id")
        match levels[1:]:
            case ["status"]:
                return Topic("status", node)
            case ["health"]:
                return Topic("health", node)
            case ["receipts"]:
                return Topic("receipts", node)
            case ["cmd", verb]:
                return Topic("cmd", node, verb=_level(verb, "verb"))
            case ["ack", verb]:
                return Topic("ack", node, verb=_level(verb, "verb"))
            case [camera, "episode"]:
                return Topic("episode", node, camera=_camera(camera))
            case [camera, "evidence", episode_id, name]:
                evidence_topic(node, camera, episode_id, name)  # validates every level
                return Topic("evidence", node, camera, episode_id, name)
    except TopicError as exc:
        raise TopicError(f"topic {topic!r}: {exc}") from None
    raise TopicError(f"topic {topic!r} does not fit the layout under {ROOT}/<node>/")
