"""Broker -> centre: a real node link (the edge's publisher with its outbox) sends a birth,
an episode's transitions and its pictures through Mosquitto; the centre's shared-subscription
consumer ingests them, once, and sees the node go offline on its clean shutdown."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from central.config import MqttConfig as CentralMqtt
from central.episodes.consumer import EpisodeConsumer
from central.models import Episode, Evidence, Node
from central.testing.centres import open_centre
from central.testing.records import episode_payload, jpeg
from mqtt.payloads import EpisodeRecord


def _record(event: str, episode_id: str, warnings: int) -> EpisodeRecord:
    return episode_payload(event, episode_id, warnings=warnings).record()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_episodes_and_evidence_arrive_through_the_broker(kind, tmp_path):
    from mqtt.broker import Broker
    from mqtt.client import NodeLink
    from mqtt.config import MqttConfig

    with (
        Broker(tmp_path / "broker") as broker,
        open_centre(kind, tmp_path, mqtt=CentralMqtt(host=broker.host, port=broker.port)) as centre,
    ):
        consumer = EpisodeConsumer(centre)
        consumer.start()
        assert consumer.subscribed.wait(10)
        evidence_root = tmp_path / "node-evidence"
        (evidence_root / "ep-mq").mkdir(parents=True)
        for name in ("warning1-frame.jpg", "violation-frame.jpg"):
            (evidence_root / "ep-mq" / name).write_bytes(jpeg(name))
        link = NodeLink(
            MqttConfig(host=broker.host, port=broker.port, outbox_path=tmp_path / "outbox.db"),
            "demo-node",
            cameras=["kerb-cam"],
        )
        link.start()
        try:
            assert link.wait_connected(10)
            link.publish_evidence("kerb-cam", evidence_root, "ep-mq/warning1-frame.jpg")
            link.publish_evidence("kerb-cam", evidence_root, "ep-mq/violation-frame.jpg")
            link.publish_episode(_record("stopped", "ep-mq", 0))
            link.publish_episode(_record("warned", "ep-mq", 1))
            link.publish_episode(_record("violation", "ep-mq", 1))
            assert link.wait_drained(10)
            assert consumer.wait_until(
                lambda c: (
                    c["episode:applied"] == 3
                    and c["evidence:applied"] == 2
                    and c["status:applied"] >= 1
                )
            ), consumer.counts
        finally:
            link.close()
        assert consumer.wait_until(lambda c: c["status:applied"] >= 2), consumer.counts
        consumer.stop()
        with centre.db.session() as session:
            episode = session.get(Episode, "ep-mq")
            assert episode.state == "pending_review"
            names = session.scalars(select(Evidence.name).order_by(Evidence.name)).all()
            assert names == ["violation-frame.jpg", "warning1-frame.jpg"]
            node = session.get(Node, "demo-node")
            assert (node.online, node.cameras) == (False, ["kerb-cam"])
        assert consumer.counts["rejected"] == 0


class _HeldDatabase:
    """Another connection holding the lock the consumer's next transaction needs, so a
    backlog builds up in the consumer's inbox (no sleeping: released by the test)."""

    def __init__(self, centre) -> None:
        self.connection = centre.db.engine.connect()
        if centre.db.dialect == "sqlite":
            self.connection.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            self.connection.exec_driver_sql("BEGIN")
            self.connection.exec_driver_sql("LOCK TABLE episodes IN EXCLUSIVE MODE")

    def release(self) -> None:
        self.connection.exec_driver_sql("ROLLBACK")
        self.connection.close()


def _backlog(centre, broker, documents: list[bytes], listen) -> EpisodeConsumer:
    """Start a consumer, hold the database, publish `documents`, wait until they are all in
    the consumer's hands (the first one waiting on the database), then let go."""
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    from mqtt import topics

    consumer = EpisodeConsumer(centre)
    arrived = threading.Semaphore(0)
    hand_over = consumer._on_message

    def on_message(*args) -> None:
        hand_over(*args)
        arrived.release()

    consumer.client.on_message = on_message
    consumer.start()
    assert consumer.subscribed.wait(10)
    held = _HeldDatabase(centre)
    listen()
    publisher = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    publisher.connect(broker.host, broker.port)
    publisher.loop_start()
    try:
        for document in documents:
            publisher.publish(topics.episode_topic("demo-node", "kerb-cam"), document, qos=1)
        # all in the consumer's hands: the first batch waits on the database, the rest in
        # its inbox
        assert all(arrived.acquire(timeout=30) for _ in documents)
        assert consumer.counts["episode:applied"] == 0
    finally:
        held.release()
        publisher.disconnect()
        publisher.loop_stop()
    return consumer


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_backlog_is_committed_in_batches(kind, tmp_path):
    """Issue 15: one transaction per batch, not per message (each message is still
    acknowledged only after its batch committed: the delivery fault tests hold that)."""
    from sqlalchemy import event, func

    from central.models import IngestedMessage
    from mqtt.broker import Broker

    count = 80  # within the broker's in-flight window to one client (100)
    with (
        Broker(tmp_path / "broker") as broker,
        open_centre(kind, tmp_path, mqtt=CentralMqtt(host=broker.host, port=broker.port)) as centre,
    ):
        commits: list[int] = []

        def listen() -> None:
            event.listen(centre.db.engine, "commit", lambda _c: commits.append(1))

        documents = [episode_payload("stopped", f"ep-{n}", seq=n).to_json() for n in range(count)]
        consumer = _backlog(centre, broker, documents, listen)
        assert consumer.wait_until(lambda c: c["episode:applied"] == count, 60), consumer.counts
        consumer.stop()
        with centre.db.session() as session:
            assert session.scalar(select(func.count()).select_from(IngestedMessage)) == count
        assert len(commits) <= 4, f"{len(commits)} transactions for {count} messages"


_POISON_TRIGGER = {
    "sqlite": [
        "CREATE TRIGGER poison BEFORE INSERT ON episodes WHEN NEW.id = 'ep-poison' "
        "BEGIN SELECT RAISE(ABORT, 'this database refuses ep-poison'); END"
    ],
    "postgresql": [
        "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "IF NEW.id = 'ep-poison' THEN RAISE EXCEPTION 'this database refuses ep-poison'; "
        "END IF; RETURN NEW; END $$",
        "CREATE TRIGGER poison BEFORE INSERT ON episodes FOR EACH ROW EXECUTE FUNCTION poison()",
    ],
}


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_poison_message_in_a_batch_loses_and_blocks_nothing(kind, tmp_path):
    """A message the database refuses (the contract lets through nothing a column cannot
    hold, so a trigger stands in for it) fails its batch's transaction: the batch is
    stored again one by one, the bad one is a dead letter, the others are stored, once."""
    import json

    from central.models import DeadLetter, IngestedMessage
    from mqtt.broker import Broker

    with (
        Broker(tmp_path / "broker") as broker,
        open_centre(kind, tmp_path, mqtt=CentralMqtt(host=broker.host, port=broker.port)) as centre,
    ):
        with centre.db.engine.begin() as connection:
            for statement in _POISON_TRIGGER[kind]:
                connection.exec_driver_sql(statement)
        names = [f"ep-{n}" for n in range(40)]
        names[17] = "ep-poison"
        documents = [episode_payload("stopped", e, seq=n).to_json() for n, e in enumerate(names)]
        poison = json.loads(documents[17])["id"]
        consumer = _backlog(centre, broker, documents, lambda: None)
        assert consumer.wait_until(
            lambda c: c["episode:applied"] == 39 and c["dead:unstorable"] == 1, 60
        ), consumer.counts
        consumer.stop()
        with centre.db.session() as session:
            stored = set(session.scalars(select(IngestedMessage.id)))
            letters = session.scalars(select(DeadLetter.message_id)).all()
        assert letters == [poison]
        assert stored == {json.loads(d)["id"] for d in documents} - {poison}
        assert consumer.counts["episode:duplicate"] == 0
