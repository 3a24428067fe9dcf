"""Broker -> centre: a real node link (the edge's publisher with its outbox) sends a birth,
an episode's transitions and its pictures through Mosquitto; the centre's shared-subscription
consumer ingests them, once, and sees the node go offline on its clean shutdown."""

from __future__ import annotations

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
