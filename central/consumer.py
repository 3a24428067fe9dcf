"""The MQTT consumer: broker -> `central.ingest`.

Episodes and evidence come through MQTT v5 shared subscriptions
(`$share/central/roadguard/v1/+/+/episode`, `.../evidence/#`), so several central workers
split the load; node status is a plain subscription, because the broker does not send
retained messages (every node's last birth/death) on a shared one, and every worker may
as well know which nodes are up.

Acknowledgement is manual: a QoS 1 message is acknowledged only after its effect is
committed, so a crash between receive and commit means redelivery, and the idempotent ingest
makes the redelivery harmless. Messages that break the contract are logged, counted and
acknowledged (a poison message must not come back forever); a database failure is not
acknowledged, and the consumer reconnects so the broker redelivers it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import Counter
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions

from central.centre import Centre
from central.ingest import IngestError, ingest_episode, ingest_evidence, ingest_status
from mqtt import topics
from mqtt.payloads import Episode, Evidence, Status
from mqtt.receive import Receiver

log = logging.getLogger(__name__)


def subscriptions(group: str) -> list[str]:
    return [
        topics.shared(topics.ALL_EPISODES, group),
        topics.shared(topics.ALL_EVIDENCE, group),
        topics.ALL_STATUS,
    ]


class EpisodeConsumer:
    """One central worker's MQTT connection. `start()` connects in the background and keeps
    reconnecting; `stop()` disconnects. `counts` says what happened to the messages."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self.config = centre.settings.mqtt
        self.receiver = Receiver(log)
        self.counts: Counter[str] = Counter()
        self.subscribed = threading.Event()
        self._changed = threading.Condition()
        client_id = self.config.client_id or f"central-{socket.gethostname()}-{os.getpid()}"
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=client_id,
            protocol=paho.MQTTv5,
            manual_ack=True,
        )
        self.client.enable_logger(logging.getLogger("central.paho"))
        if self.config.username:
            self.client.username_pw_set(self.config.username, self.config.password)
        self.client.reconnect_delay_set(0.5, 30)
        self.client.on_connect = self._on_connect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_disconnect = self._on_disconnect
        # A stable client id gets a persistent session: messages queue while we are away.
        self._persistent = bool(self.config.client_id)

    def start(self) -> None:
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = 24 * 3600 if self._persistent else 0
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=not self._persistent,
            properties=connect,
        )
        self.client.loop_start()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def wait_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Block until `predicate(counts)` holds (tests and benchmarks: no sleeping)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.counts), timeout)

    # -- paho callbacks (network thread) ----------------------------------------------------
    def _on_connect(self, client: paho.Client, _u: Any, _f: Any, reason: Any, _p: Any) -> None:
        if reason.is_failure:
            log.warning("broker refused the connection: %s", reason)
            return
        options = SubscribeOptions(qos=1)
        client.subscribe([(t, options) for t in subscriptions(self.config.group)])
        log.info(
            "consuming from %s:%s as group %r",
            self.config.host,
            self.config.port,
            self.config.group,
        )

    def _on_subscribe(self, *_args: Any) -> None:
        self.subscribed.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.subscribed.clear()

    def _count(self, what: str) -> None:
        with self._changed:
            self.counts[what] += 1
            self._changed.notify_all()

    def _on_message(self, client: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        received = self.receiver.accept(message.topic, message.payload, message.properties)
        if received is None:
            self._ack(message)
            self._count("rejected")
            return
        try:
            result = self._ingest(received.payload, received.data)
        except IngestError as exc:
            log.warning("not ingested %s: %s", message.topic, exc)
            self._ack(message)
            self._count("rejected")
            return
        except Exception:
            # Not acknowledged: reconnecting makes the broker redeliver it.
            log.exception("ingest failed for %s; will be redelivered", message.topic)
            self._count("failed")
            client.reconnect()
            return
        self._ack(message)
        self._count(f"{received.topic.kind}:{'applied' if result else 'duplicate'}")

    def _ingest(self, payload: Any, data: bytes | None) -> bool:
        if isinstance(payload, Episode):
            return ingest_episode(self.centre, payload).applied
        if isinstance(payload, Evidence):
            assert data is not None
            return ingest_evidence(self.centre, data, payload).applied
        if isinstance(payload, Status):
            return ingest_status(self.centre, payload).applied
        raise IngestError(f"unexpected payload {payload.schema_}")

    def _ack(self, message: paho.MQTTMessage) -> None:
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)
