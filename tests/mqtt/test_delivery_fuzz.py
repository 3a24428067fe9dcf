"""Ten thousand hypothesis-made episodes through a secured broker into the centre's real
consumer (shared subscription), on SQLite and PostgreSQL: well-formed messages with values no
database holds (64-bit overflow, NaN and infinities, NUL, lone surrogates) and episodes that
belong to another node, interleaved with good ones. Every good one is ingested, every bad one
is a dead letter with a reason, once; nothing is retried, nothing blocks."""

from __future__ import annotations

import json
import threading

import paho.mqtt.client as paho
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from central.config import MqttConfig as CentralMqtt
from central.episodes.consumer import EpisodeConsumer
from central.models import DeadLetter, Episode
from central.testing.centres import open_centre
from mqtt import topics
from mqtt.broker import Broker
from mqtt.payloads import new_id
from mqtt.testing import numbered_record
from roadguard.testing.delivery import PASSWORDS

TOTAL = 10_000
OWNED_BY_B = [f"b-{i}" for i in range(5)]
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=30)
HUGE = st.integers(2**63, 10**30)
NOT_FINITE = st.sampled_from([float("nan"), float("inf"), float("-inf")])

GOOD = st.fixed_dictionaries(
    {
        "seq": st.integers(0, 2**63 - 1),
        "time": st.floats(0, 1e12, allow_nan=False, allow_infinity=False),
        "zone_name": TEXT,
        "plate": st.none() | TEXT.map(lambda t: t[:32]),
        "track_ids": st.lists(st.integers(-(2**63) + 1, 2**63 - 1), max_size=3),
        "box": st.lists(st.floats(-1e300, 1e300, allow_nan=False), min_size=4, max_size=4),
    }
)
BAD = st.one_of(
    st.fixed_dictionaries({"seq": HUGE}),
    st.fixed_dictionaries({"time": NOT_FINITE}),
    st.fixed_dictionaries(
        {"box": st.tuples(NOT_FINITE, st.floats(0, 1), st.just(2.0), st.just(3.0)).map(list)}
    ),
    st.fixed_dictionaries({"zone_name": TEXT.map(lambda t: t + "\x00")}),
    st.fixed_dictionaries({"plate": st.sampled_from(["\ud800", "京A\udfff1"])}),
    st.fixed_dictionaries({"track_ids": st.lists(HUGE, min_size=1, max_size=2)}),
    st.fixed_dictionaries({"episode_id": st.sampled_from(OWNED_BY_B)}),  # another node's
)
MESSAGE = st.one_of(GOOD.map(lambda d: ("good", d)), BAD.map(lambda d: ("bad", d)))


def _document(node: str, n: int, fields: dict) -> dict:
    wire = numbered_record(n, node).model_dump(mode="json")
    record = {**wire, "episode_id": f"{node}-{n}", "seq": n, **fields}
    return {"schema": "roadguard.episode/1", "id": str(new_id()), **record}


def _client(node: str, port: int) -> paho.Client:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=node, protocol=paho.MQTTv5)
    client.username_pw_set(node, PASSWORDS[node])
    client.max_inflight_messages_set(200)
    connected = threading.Event()
    client.on_connect = lambda *_a: connected.set()
    client.connect("127.0.0.1", port)
    client.loop_start()
    assert connected.wait(10)
    return client


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_ten_thousand_fuzzed_episodes(kind, tmp_path):
    mqtt = CentralMqtt(username="central", password=PASSWORDS["central"])  # port: below
    with (
        Broker(tmp_path / "broker", accounts=PASSWORDS) as broker,
        open_centre(kind, tmp_path, mqtt=mqtt.model_copy(update={"port": broker.port})) as centre,
    ):
        consumer = EpisodeConsumer(centre)
        consumer.start()
        assert consumer.subscribed.wait(10)
        gate_b = _client("gate-b", broker.port)
        for i, episode_id in enumerate(OWNED_BY_B):
            document = _document("gate-b", i, {"episode_id": episode_id})
            gate_b.publish(topics.episode_topic("gate-b", "cam-1"), json.dumps(document), qos=1)
        assert consumer.wait_until(lambda c: c["episode:applied"] == len(OWNED_BY_B), 30)

        gate_a = _client("gate-a", broker.port)
        sent: dict[str, list[str]] = {"good": [], "bad": []}
        last: list = []

        @settings(
            max_examples=250,
            database=None,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(st.lists(MESSAGE, min_size=40, max_size=40))
        def publish(batch):
            for verdict, fields in batch:
                n = len(sent["good"]) + len(sent["bad"])
                document = _document("gate-a", n, fields)
                sent[verdict].append(document["id"])
                payload = json.dumps(document)  # NaN stays NaN; "\ud800" is escaped
                last[:] = [gate_a.publish(topics.episode_topic("gate-a", "cam-1"), payload, 1)]

        while len(sent["good"]) + len(sent["bad"]) < TOTAL:
            publish()
        total = len(sent["good"]) + len(sent["bad"])
        assert len(sent["bad"]) > 1000 and len(sent["good"]) > 1000
        last[0].wait_for_publish(120)

        def settled(c) -> bool:
            dead = sum(v for k, v in c.items() if k.startswith("dead:"))
            return c["episode:applied"] - len(OWNED_BY_B) + dead >= total

        assert consumer.wait_until(settled, 900), consumer.counts
        consumer.stop()
        gate_a.disconnect()
        gate_b.disconnect()

        with centre.db.session() as session:
            stored = set(session.scalars(select(Episode.id).where(Episode.node_id == "gate-a")))
            letters = session.execute(select(DeadLetter.message_id, DeadLetter.reason)).all()
            owners = dict(session.execute(select(Episode.id, Episode.node_id)).all())
        assert len(stored) == len(sent["good"])  # every good one, under its own episode
        assert sorted(m for m, _ in letters) == sorted(sent["bad"])  # every bad one, once
        assert all(reason for _, reason in letters)
        assert {owners[e] for e in OWNED_BY_B} == {"gate-b"}  # nobody rewrote gate-b's
        assert consumer.counts["failed"] == 0  # nothing was retried
        assert consumer.counts["episode:duplicate"] == 0
