"""Receivers reject what does not fit the contract, with a reason, and keep going; thousands
of generated malformed payloads never crash them."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mqtt import topics
from mqtt.payloads import Episode, Evidence
from mqtt.receive import Receiver, validate_message
from mqtt.testing import numbered_record

NODE = "n1"
GOOD = json.loads(Episode.from_record(numbered_record(3, NODE), seq=5).to_json())
EPISODE_TOPIC = topics.episode_topic(NODE, "cam-1")


class _Props:
    def __init__(self, user: list[tuple[str, str]], content_type: str | None = None) -> None:
        self.UserProperty = user
        if content_type is not None:
            self.ContentType = content_type


def _evidence(data: bytes, **changes: Any) -> tuple[str, bytes, _Props]:
    meta = Evidence.build(
        seq=9, node_id=NODE, camera_id="cam-1", episode_id="ep-1", name="frame.jpg",
        size=len(data), sha256=hashlib.sha256(data).hexdigest(),
    )  # fmt: skip
    document = {**json.loads(meta.to_json()), **changes}
    topic = topics.evidence_topic(NODE, "cam-1", "ep-1", "frame.jpg")
    return topic, data, _Props([("roadguard-meta", json.dumps(document))], "image/jpeg")


@pytest.fixture(autouse=True)
def _quiet_receiver(caplog):
    caplog.set_level(logging.CRITICAL, logger="mqtt.receive")


def test_a_good_episode_is_accepted() -> None:
    receiver = Receiver()
    received = receiver.accept(EPISODE_TOPIC, json.dumps(GOOD).encode())
    assert received is not None and received.payload.seq == 5
    assert receiver.accepted == 1 and receiver.rejected_total == 0


@pytest.mark.parametrize(
    ("topic", "document", "category"),
    [
        (EPISODE_TOPIC, {**GOOD, "schema": "roadguard.episode/2"}, "unknown-major"),
        (EPISODE_TOPIC, {**GOOD, "schema": "roadguard.parking/1"}, "unknown-schema"),
        (EPISODE_TOPIC, {**GOOD, "schema": "episode"}, "bad-schema"),
        (EPISODE_TOPIC, {k: v for k, v in GOOD.items() if k != "schema"}, "no-schema"),
        (EPISODE_TOPIC, {**GOOD, "seq": -1}, "invalid"),
        (EPISODE_TOPIC, [GOOD], "not-an-object"),
        (topics.episode_topic("n2", "cam-1"), GOOD, "wrong-node"),
        (topics.episode_topic(NODE, "cam-2"), GOOD, "wrong-camera"),
        (topics.health_topic(NODE), GOOD, "wrong-topic"),
        ("roadguard/v1/n1/cam-1/episodes", GOOD, "bad-topic"),
    ],
)
def test_rejections_have_a_reason(topic: str, document: Any, category: str) -> None:
    receiver = Receiver()
    assert receiver.accept(topic, json.dumps(document).encode()) is None
    assert receiver.rejected == {category: 1}


def test_evidence_travels_as_bytes_with_its_metadata_beside_it() -> None:
    jpeg = b"\xff\xd8\xff" + bytes(range(256))
    received = validate_message(*_evidence(jpeg))
    assert received.data == jpeg and received.payload.reference == "ep-1/frame.jpg"
    receiver = Receiver()
    topic, _, props = _evidence(jpeg)
    assert receiver.accept(topic, jpeg[:-1], props) is None  # truncated on the way
    assert receiver.accept(topic, jpeg, _Props([])) is None  # no metadata
    assert receiver.accept(*_evidence(jpeg, name="other.jpg")) is None
    assert receiver.rejected == {"corrupt-evidence": 1, "no-evidence-meta": 1,
                                 "wrong-evidence": 1}  # fmt: skip


def test_a_played_warning_travels_as_audio_evidence_and_its_type_must_match_its_name() -> None:
    clip = b"RIFF" + bytes(200)
    meta = Evidence.build(
        seq=9, node_id=NODE, camera_id="cam-1", episode_id="ep-1", name="warning1-voice.wav",
        content_type="audio/wav", size=len(clip), sha256=hashlib.sha256(clip).hexdigest(),
    )  # fmt: skip
    topic = topics.evidence_topic(NODE, "cam-1", "ep-1", "warning1-voice.wav")
    props = _Props([("roadguard-meta", meta.to_json().decode())], "audio/wav")
    received = validate_message(topic, clip, props)
    assert received.payload.content_type == "audio/wav" and received.data == clip
    receiver = Receiver()
    wrong = json.loads(meta.to_json())
    wrong["content_type"] = "image/jpeg"  # a WAV that says it is a picture
    assert receiver.accept(topic, clip, _Props([("roadguard-meta", json.dumps(wrong))])) is None
    assert receiver.accept(topic, clip, _Props(props.UserProperty, "text/html")) is None
    assert receiver.rejected == {"invalid": 1, "bad-content-type": 1}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _mutations() -> st.SearchStrategy[Any]:
    """A good episode with fields removed, replaced by junk, or junk added."""
    keys = st.sampled_from(sorted(GOOD))
    return st.one_of(
        st.builds(lambda k: {x: v for x, v in GOOD.items() if x != k}, keys),
        st.builds(lambda k, v: {**GOOD, k: v}, keys, json_values),
        st.builds(lambda d: {**GOOD, **d}, st.dictionaries(st.text(max_size=8), json_values)),
        st.builds(lambda s: {**GOOD, "schema": s}, st.text(max_size=30)),
    )


@settings(max_examples=2500, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    topic=st.one_of(st.just(EPISODE_TOPIC), st.text(max_size=60),
                    st.sampled_from([topics.status_topic(NODE), topics.health_topic(NODE),
                                     topics.ack_topic(NODE, "mute"),
                                     topics.command_topic(NODE, "mute"),
                                     topics.evidence_topic(NODE, "cam-1", "e", "f.jpg")])),
    body=st.one_of(
        st.binary(max_size=200),
        st.builds(lambda v: json.dumps(v).encode(), json_values),
        st.builds(lambda v: json.dumps(v).encode(), _mutations()),
    ),
    user=st.lists(st.tuples(st.sampled_from(["roadguard-meta", "x"]), st.text(max_size=40)),
                  max_size=2),
)  # fmt: skip
def test_malformed_payloads_never_crash_the_receiver(
    topic: str, body: bytes, user: list[tuple[str, str]]
) -> None:
    receiver = Receiver()
    result = receiver.accept(topic, body, _Props(user))
    assert receiver.rejected["internal-error"] == 0
    assert (result is None) == (receiver.rejected_total == 1)
    assert receiver.accepted + receiver.rejected_total == 1
