"""A client id is an identity (design.md): on the broker that `roadguard broker config`
writes, node `gate-a` with its own password cannot take the session of `gate-b` or of the
centre by claiming their client ids, and cannot rewrite an episode of `gate-b` by publishing
its id on its own topic."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt import topics
from mqtt.payloads import new_id
from mqtt.testing import numbered_record
from roadguard.testing.delivery import PASSWORDS, DeliveryRig, wait_for


class Session:
    """A raw paho client as `user` claiming `client_id`; it does not reconnect, so being
    pushed off the broker shows as `dropped`."""

    def __init__(self, port: int, user: str, client_id: str) -> None:
        self.connected, self.dropped = threading.Event(), threading.Event()
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,
        )
        self.client.username_pw_set(user, PASSWORDS[user])
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_disconnect = lambda *_a: self.dropped.set()
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        self.client.connect("127.0.0.1", port, clean_start=False, properties=props)
        self.client.loop_start()
        assert self.connected.wait(10), f"{user} did not connect"

    def publish_episode(self, node: str, record: dict) -> None:
        document = {"schema": "roadguard.episode/1", "id": str(new_id()), "seq": 1, **record}
        info = self.client.publish(topics.episode_topic(node, "cam-1"), json.dumps(document), qos=1)
        info.wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_a_node_cannot_take_another_identity_or_episode(tmp_path: Path) -> None:
    rig = DeliveryRig(tmp_path).start()
    try:
        gate_b = Session(rig.broker.port, "gate-b", "roadguard-gate-b")
        own = {
            **numbered_record(1, "gate-b").model_dump(mode="json"),
            "episode_id": "ep-of-b",
            "plate": "京A12345",
        }
        gate_b.publish_episode("gate-b", own)
        wait_for(lambda: rig.centre.episodes("gate-b") == 1, 30, "gate-b's episode")

        intruders = [
            Session(rig.broker.port, "gate-a", "roadguard-gate-b"),  # gate-b's client id
            Session(rig.broker.port, "gate-a", "central-1"),  # the centre's client id
        ]
        # The broker settles a takeover before it answers CONNECT; a round trip through
        # gate-b after both CONNACKs proves its session is still its own.
        gate_b.publish_episode("gate-b", {**own, "event": "warned", "warning": 1})
        assert not gate_b.dropped.is_set(), "gate-a pushed gate-b off the broker"
        rig.wait_consuming()  # the centre still consumes: its session was not taken
        assert rig.centre.process is not None and rig.centre.process.poll() is None

        forged = {
            **numbered_record(2, "gate-a").model_dump(mode="json"),
            "episode_id": "ep-of-b",
            "plate": "假A00000",
        }
        # both intruders became client "gate-a": the second pushed the first off, its own session
        intruders[-1].publish_episode("gate-a", {**forged, "event": "dissuaded"})
        wait_for(
            lambda: (
                rig.centre.scalar("SELECT count(*) FROM dead_letters WHERE reason = 'wrong-owner'")
                == 1
            ),
            30,
            "the forged episode's dead letter",
        )
        row = rig.centre.scalar(
            "SELECT count(*) FROM episodes WHERE id = 'ep-of-b' AND node_id = 'gate-b' "
            "AND plate = '京A12345' AND state = 'active'"
        )
        assert row == 1, "gate-a rewrote gate-b's episode"
        for session in [gate_b, *intruders]:
            session.close()
    finally:
        rig.close()
