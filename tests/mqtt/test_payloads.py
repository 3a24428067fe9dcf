"""The payload models, the topic layout and the generated JSON Schema files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import ValidationError

from mqtt import topics
from mqtt.payloads import PAYLOAD_TYPES, Episode, EpisodeRecord, Status
from mqtt.schema_files import SCHEMA_DIR, schema_documents, stale_schemas

# What edge/pipeline.py emits for a first warning (demo-output/episodes.jsonl).
WIRE = {
    "event": "warned", "time": 13.4, "node_id": "demo-node", "camera_id": "kerb-cam",
    "warning": 1, "episode_id": "9b7ea3eb-3a22-4f1b-859c-57387b14f814",
    "zone_id": "school-gate", "zone_name": "School gate", "vehicle_class": "car",
    "box": [92.9, 275.4, 394.4, 467.2], "anchor": [85.5, 275.4, 380.8, 468.7],
    "stopped_at": 5.2,
    "warnings": [{"n": 1, "at": 13.4, "evidence": [
        "9b7ea3eb-3a22-4f1b-859c-57387b14f814/warning1-frame.jpg",
        "9b7ea3eb-3a22-4f1b-859c-57387b14f814/warning1-crop.jpg"],
        "announcement": {"clip": "3f2a.wav", "text": "Please move on", "status": "played",
                         "volume": 1.0, "reason": "", "played_at": "2026-12-03T08:00:01.500000Z",
                         "errors": [], "clip_evidence": None}}],
    "violation_at": None, "ended_at": None, "outcome": None, "track_ids": [2],
    "suspended_s": 0.0, "cooldown_of": None, "plate": None,
    "evidence": ["9b7ea3eb-3a22-4f1b-859c-57387b14f814/warning1-frame.jpg",
                 "9b7ea3eb-3a22-4f1b-859c-57387b14f814/warning1-crop.jpg"],
}  # fmt: skip
RECORD = EpisodeRecord.model_validate(WIRE)


def test_episode_record_round_trips() -> None:
    payload = Episode.from_record(RECORD, seq=7)
    wire = json.loads(payload.to_json())
    assert wire["schema"] == "roadguard.episode/1" and wire["seq"] == 7
    assert wire["sent_at"].endswith("Z")
    assert payload.id.version == 7
    for key, value in WIRE.items():
        assert wire[key] == value, key
    assert Episode.model_validate(wire) == payload
    assert payload.record() == RECORD


def test_numbering_a_built_payload_changes_only_its_seq() -> None:
    """The outbox numbers a payload validated before its commit (`with_seq`)."""
    unnumbered = Episode.from_record(RECORD, seq=0)
    numbered = unnumbered.with_seq(41)
    assert numbered.seq == 41 and unnumbered.seq == 0
    assert numbered.model_dump(exclude={"seq"}) == unnumbered.model_dump(exclude={"seq"})
    assert Episode.model_validate(json.loads(numbered.to_json())) == numbered
    with pytest.raises(ValueError, match="out of range"):
        unnumbered.with_seq(-1)


def test_ids_are_time_ordered_uuid7() -> None:
    ids = [Episode.from_record(RECORD, seq=i).id for i in range(50)]
    assert all(i.version == 7 for i in ids)
    assert ids == sorted(ids)


def test_unknown_fields_are_ignored_unknown_major_is_not() -> None:
    wire = json.loads(Episode.from_record(RECORD, seq=1).to_json())
    assert Episode.model_validate({**wire, "added_in_1_3": {"x": 1}}).seq == 1
    with pytest.raises(ValidationError, match="unknown major version 2"):
        Episode.model_validate({**wire, "schema": "roadguard.episode/2"})
    with pytest.raises(ValidationError):
        Episode.model_validate({**wire, "schema": "roadguard.status/1"})


def test_timestamps_are_utc_and_never_naive() -> None:
    cet = timezone(timedelta(hours=1))
    status = Status.build(
        seq=1, node_id="n1", state="online", software_version="0.1", restarts=1,
        online_since=datetime(2026, 1, 1, 9, 0, tzinfo=cet),
    )  # fmt: skip
    assert status.online_since == datetime(2026, 1, 1, 8, 0, tzinfo=UTC)
    assert status.online_since.utcoffset() == timedelta(0)
    with pytest.raises(ValidationError):
        Status.build(
            seq=1, node_id="n1", state="online", software_version="0.1", restarts=1,
            sent_at=datetime(2026, 1, 1),
        )  # fmt: skip


def test_record_off_the_contract_is_refused_at_the_source() -> None:
    with pytest.raises(ValidationError):
        EpisodeRecord.model_validate({**WIRE, "event": "teleported"})
    with pytest.raises(ValidationError):
        EpisodeRecord.model_validate({**WIRE, "box": [1, 2, 3]})
    unstorable = RECORD.model_copy(update={"time": float("nan")})  # built without validation
    with pytest.raises(ValidationError, match="not storable"):
        Episode.from_record(unstorable, seq=1)


def test_topics_build_and_parse() -> None:
    assert topics.CENTRAL_EPISODES == "$share/central/roadguard/v1/+/+/episode"
    assert topics.command_subscription("n1") == "roadguard/v1/n1/cmd/+"
    built = topics.evidence_topic("n1", "cam-1", "ep-1", "warning1-frame.jpg")
    assert built == "roadguard/v1/n1/cam-1/evidence/ep-1/warning1-frame.jpg"
    parsed = topics.parse_topic(built)
    assert (parsed.kind, parsed.node, parsed.camera, parsed.episode_id, parsed.name) == (
        "evidence", "n1", "cam-1", "ep-1", "warning1-frame.jpg"
    )  # fmt: skip
    assert topics.parse_topic(topics.episode_topic("n1", "cam-1")).kind == "episode"
    assert topics.parse_topic(topics.ack_topic("n1", "mute")).verb == "mute"
    assert topics.parse_topic(topics.status_topic("n1")).kind == "status"


@pytest.mark.parametrize(
    "bad",
    ["roadguard/v2/n1/status", "roadguard/v1/n+1/status", "roadguard/v1/n1/cmd/episode/x",
     "roadguard/v1/n1/nothing", "roadguard/v1/n1/cmd/episode/", "x/roadguard/v1/n1/status"],
)  # fmt: skip
def test_topics_outside_the_layout_are_refused(bad: str) -> None:
    with pytest.raises(topics.TopicError):
        topics.parse_topic(bad)


def test_ids_cannot_smuggle_wildcards_or_reserved_names() -> None:
    for node in ("a/b", "#", "+", ""):
        with pytest.raises(topics.TopicError):
            topics.status_topic(node)
    with pytest.raises(topics.TopicError, match="reserved"):
        topics.episode_topic("n1", "health")
    with pytest.raises(topics.TopicError):
        topics.evidence_topic("n1", "cam", "ep", "..")


def test_schema_files_match_the_models() -> None:
    assert stale_schemas() == [], "run `roadguard mqtt schemas` and commit mqtt/schemas/"
    assert len(list(SCHEMA_DIR.glob("*.json"))) == len(PAYLOAD_TYPES)


def test_schema_drift_is_detected(tmp_path) -> None:
    for name, document in schema_documents().items():
        (tmp_path / name).write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    assert stale_schemas(tmp_path) == []
    episode = tmp_path / "roadguard.episode-1.json"
    doc = json.loads(episode.read_text())
    del doc["properties"]["plate"]
    episode.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")
    assert stale_schemas(tmp_path) == ["roadguard.episode-1.json"]


def test_schema_pins_name_and_major() -> None:
    document = schema_documents()["roadguard.episode-1.json"]
    assert document["properties"]["schema"]["const"] == "roadguard.episode/1"
    assert "schema" in document["required"]
