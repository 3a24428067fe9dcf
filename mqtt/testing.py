"""Helpers for tests, benchmarks and the demo: a deduplicating subscriber (what the centre's
idempotent ingest does, in miniature), a scripted publisher process that can be killed, and a
TCP relay whose link can be cut (`LinkCut`).

`python -m mqtt.testing publish ...` is the "edge process" of the kill -9 test: it produces
numbered episodes through a real `NodeLink` and outbox, and on restart resumes from the
outbox's own count of what it committed, so a kill at any instant loses or repeats nothing.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from mqtt import topics
from mqtt.payloads import (
    Command,
    Episode,
    EpisodeRecord,
    Evidence,
    Receipt,
    Status,
    Transition,
)
from mqtt.receive import Received, Receiver

log = logging.getLogger(__name__)


class Collector:
    """A subscriber that keeps one copy of each message id (`unique`) and counts repeats
    (`duplicates`). Persistent session (clean start off, session expiry) so the broker
    queues for it while it is reconnecting. Like the centre, it answers every episode and
    evidence message with a `Receipt` (`receipts=False`: a bystander that does not)."""

    def __init__(
        self,
        port: int,
        subscriptions: Iterable[str] = (topics.ALL_EPISODES, topics.ALL_EVIDENCE),
        *,
        host: str = "127.0.0.1",
        client_id: str = "test-collector",
        username: str | None = None,
        password: str | None = None,
        receipts: bool = True,
    ) -> None:
        self.receipts = receipts
        self.unique: dict[str, Received] = {}
        self.duplicates = 0
        self.arrivals: list[tuple[float, Received]] = []
        self.receiver = Receiver()
        self._subscriptions = list(subscriptions)
        self._changed = threading.Condition()
        self.subscribed = threading.Event()
        self.on_arrival: Callable[[Received], None] | None = None
        client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=paho.MQTTv5)
        if username is not None:
            client.username_pw_set(username, password)
        client.reconnect_delay_set(0.05, 0.5)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_message = self._on_message
        props = Properties(PacketTypes.CONNECT)
        props.SessionExpiryInterval = 3600
        client.connect_async(host, port, clean_start=False, properties=props)
        self.client = client

    def start(self, timeout: float = 10.0) -> Collector:
        self.client.loop_start()
        if not self.subscribed.wait(timeout):
            raise TimeoutError("collector did not get its SUBACK")
        return self

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            client.subscribe([(s, 1) for s in self._subscriptions])

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        received = self.receiver.accept(message.topic, message.payload, message.properties)
        if received is None:
            return
        key = str(received.payload.id)
        if self.receipts and isinstance(received.payload, Episode | Evidence):
            node = received.topic.node
            receipt = Receipt.build(seq=0, node_id=node, ids=[received.payload.id])
            client.publish(topics.receipts_topic(node), receipt.to_json(), qos=1)
        with self._changed:
            if key in self.unique:
                self.duplicates += 1
            else:
                self.unique[key] = received
                self.arrivals.append((time.perf_counter(), received))
            self._changed.notify_all()
        if self.on_arrival is not None:
            self.on_arrival(received)

    def of_type(self, kind: type) -> list[Any]:
        with self._changed:
            return [r.payload for r in self.unique.values() if isinstance(r.payload, kind)]

    def wait_for(self, predicate: Callable[[Collector], bool], timeout: float) -> bool:
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self), timeout)

    def count(self, kind: type) -> int:
        return len(self.of_type(kind))


class LinkCut:
    """A TCP relay on loopback between a node and its broker, whose link can be cut the way
    a pulled cable or a dead uplink cuts it: `cut()` stops forwarding in both directions and
    holds new connections unanswered (nothing is refused, nothing arrives, so the node finds
    out only by its keep-alive); `restore()` drops the dead connections and relays again."""

    def __init__(self, target_port: int, host: str = "127.0.0.1") -> None:
        import socket

        self.target = (host, target_port)
        self._server = socket.create_server((host, 0))
        self.port = self._server.getsockname()[1]
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()
        self._pairs: list[tuple[Any, Any]] = []
        self._held: list[Any] = []
        self.connections = 0
        threading.Thread(target=self._accept, name="link-cut", daemon=True).start()

    def _accept(self) -> None:
        import socket

        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            if not self._open.is_set():
                with self._lock:
                    self._held.append(conn)  # accepted, never answered
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                conn.close()
                continue
            with self._lock:
                self._pairs.append((conn, upstream))
                self.connections += 1
            for a, b in ((conn, upstream), (upstream, conn)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: Any, sink: Any) -> None:
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                break
            if not self._open.is_set():
                continue  # the cable is out: bytes vanish
            try:
                sink.sendall(data)
            except OSError:
                break
        for sock in (source, sink):
            with contextlib.suppress(OSError):
                sock.close()

    def cut(self) -> None:
        self._open.clear()

    def restore(self) -> None:
        with self._lock:
            dead, self._pairs = self._pairs, []
            held, self._held = self._held, []
        for sock in [s for pair in dead for s in pair] + held:
            with contextlib.suppress(OSError):
                sock.close()
        self._open.set()

    def close(self) -> None:
        self.restore()
        with contextlib.suppress(OSError):
            self._server.close()


def numbered_record(index: int, node_id: str, camera_id: str = "cam-1") -> EpisodeRecord:
    """A `stopped` episode record whose `track_ids` carries `index`."""
    return EpisodeRecord(
        event=Transition.STOPPED,
        time=round(index * 0.1, 3),
        node_id=node_id,
        camera_id=camera_id,
        episode_id=f"ep-{index:06d}",
        zone_id="school-gate",
        zone_name="School gate",
        vehicle_class="car",
        box=[10.0, 20.0, 110.0, 90.0],
        anchor=[10.0, 20.0, 110.0, 90.0],
        stopped_at=1.0,
        track_ids=[index],
    )


def evidence_bytes(index: int) -> bytes:
    """A stand-in JPEG (SOI marker + deterministic filler): what is checked is the bytes."""
    return b"\xff\xd8\xff\xe0" + hashlib.sha256(str(index).encode()).digest() * 64


def write_evidence(root: Path, index: int) -> str:
    """Write episode `index`'s stand-in picture as the evidence store does (whole, then
    renamed into place) and return its reference, for `NodeLink.publish_evidence`."""
    reference = f"ep-{index:06d}/frame.jpg"
    path = root / reference
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_bytes(evidence_bytes(index))
    partial.replace(path)
    return reference


def command(node_id: str, verb: str, seq: int = 1, **args: Any) -> Command:
    return Command.build(seq=seq, node_id=node_id, verb=verb, args=args)


__all__ = [
    "Collector",
    "LinkCut",
    "Episode",
    "Evidence",
    "Status",
    "command",
    "evidence_bytes",
    "numbered_record",
    "write_evidence",
]


def _publish_main(argv: list[str]) -> int:
    """The killable edge process: produce episodes 0..count-1 (evidence for every
    `--evidence-every`-th), resuming from the outbox's count; exit 0 once all are acked."""
    from mqtt.client import NodeLink
    from mqtt.config import MqttConfig
    from mqtt.outbox import Outbox

    parser = argparse.ArgumentParser(prog="python -m mqtt.testing publish")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--node", required=True)
    parser.add_argument("--outbox", type=Path, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--evidence-every", type=int, default=0)
    parser.add_argument("--interval", type=float, default=0.005, help="producer pacing (s)")
    parser.add_argument("--username", default=None)
    parser.add_argument("--password", default=None)
    parser.add_argument("--receipt-timeout", type=float, default=20.0)
    parser.add_argument("--keepalive", type=int, default=30)
    parser.add_argument("--drain-timeout", type=float, default=120.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    outbox = Outbox(args.outbox)
    config = MqttConfig(
        port=args.port,
        username=args.username,
        password=args.password,
        keepalive_s=args.keepalive,
        reconnect_min_s=0.05,
        reconnect_max_s=0.5,
        receipt_timeout_s=args.receipt_timeout,
        receipt_timeout_max_s=max(args.receipt_timeout, 4 * args.receipt_timeout),
    )
    link = NodeLink(config, args.node, cameras=["cam-1"], outbox=outbox)
    link.start()
    while (index := outbox.produced("episode")) < args.count:
        # evidence first, as MqttEpisodeSink does; resumable because it is keyed by index
        every = args.evidence_every
        if every and index % every == 0 and outbox.produced("evidence") <= index // every:
            evidence_root = args.outbox.parent / "evidence"
            link.publish_evidence("cam-1", evidence_root, write_evidence(evidence_root, index))
        link.publish_episode(numbered_record(index, args.node))
        time.sleep(args.interval)  # pacing the producer, like frames would
    drained = link.wait_drained(args.drain_timeout)
    produced = outbox.produced("episode")
    link.close()
    print(f"done drained={drained} produced={produced}", flush=True)
    return 0 if drained else 1


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "publish":
        sys.exit(_publish_main(sys.argv[2:]))
    sys.exit("usage: python -m mqtt.testing publish --port P --node N --outbox F --count C")
