"""The node's link to the centre: paho-mqtt (MQTT v5, QoS 1) in front of the on-disk outbox.

Why it is built this way:

- Everything the node says (episodes, evidence, health, command acks) is written to the
  `Outbox` first, then handed to paho by one dispatcher thread, at most `max_inflight` at a
  time, in the order it was written. Episodes and evidence leave the outbox only when the
  centre's `Receipt` names them (end-to-end ack on `roadguard/v1/<node>/receipts`); their
  PUBACK only schedules a re-send if no receipt comes (`receipt_timeout_s`, doubling), and a
  reconnect makes every unconfirmed row due at once, because the broker we reach now may not
  hold what the last connection handed over. At most `receipt_window` rows wait for a
  receipt at a time. Health and command acks leave on their PUBACK. A failure reason code
  (e.g. not authorised) or a centre's refusal moves a row to the outbox's dead letters, so
  one bad message cannot block or loop forever. Delivery is at-least-once and the centre
  dedupes on `id`.
- paho calls back on its own network thread while holding its locks, so callbacks only put
  events on a queue; the dispatcher owns the outbox bookkeeping. No lock is ever held
  across a call into paho from two sides.
- `clean_start=False` with a session expiry: the broker keeps the node's command
  subscription (and commands sent meanwhile) while the link is down.
- Birth and death: on each connect a retained `status` `online` goes straight out (not
  through the outbox: a stale birth means nothing); the last will, set before connecting,
  is a retained `status` `offline` with the same restart counter; a clean `close()`
  publishes `offline` itself, since a normal disconnect does not fire the will.
- Commands arrive on `roadguard/v1/<node>/cmd/<verb>`, are validated (`mqtt.receive`), run
  one at a time on a worker thread by the handler registered for the verb, and answered on
  `roadguard/v1/<node>/ack/<verb>` with a `CommandAck` (through the outbox). A command id
  seen recently is acknowledged again without running twice (QoS 1 may redeliver).
"""

from __future__ import annotations

import collections
import contextlib
import functools
import hashlib
import logging
import queue
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import ValidationError

from configbase import SOFTWARE_VERSION
from mqtt import topics
from mqtt.config import MqttConfig
from mqtt.outbox import RECEIPTED, Message, Outbox, OutboxFull
from mqtt.payloads import (
    EVIDENCE_CONTENT_TYPE,
    EVIDENCE_META_PROPERTY,
    CameraHealth,
    Command,
    CommandAck,
    Episode,
    EpisodeRecord,
    Evidence,
    Health,
    Receipt,
    Status,
    content_type_of,
    utc_now,
)
from mqtt.receive import Rejected, validate_message

log = logging.getLogger(__name__)

CommandHandler = Callable[[Command], dict[str, Any] | None]
JSON_CONTENT_TYPE = "application/json"


def default_outbox_path(node_id: str) -> Path:
    from configbase import data_dir  # lazily: only when no path is configured

    return data_dir() / f"outbox-{node_id}.sqlite"


def _publish_properties(message: Message) -> Properties:
    """The MQTT v5 properties of a publish. Those with no user properties (every episode,
    health and ack) are one object per content type, built once: paho only reads them, and
    building them was a tenth of the dispatcher's time."""
    content_type = message.properties.get("content_type")
    user = message.properties.get("user")
    if not user:
        return _plain_properties(content_type)
    return _build_properties(content_type, user)


@functools.cache
def _plain_properties(content_type: str | None) -> Properties:
    return _build_properties(content_type, [])


def _build_properties(content_type: str | None, user: list[list[str]]) -> Properties:
    props = Properties(PacketTypes.PUBLISH)
    if content_type:
        props.ContentType = content_type
    if content_type == JSON_CONTENT_TYPE:
        props.PayloadFormatIndicator = 1  # UTF-8 text
    for key, value in user:
        props.UserProperty = (key, value)  # paho appends each pair
    return props


class NodeLink:
    """One node's connection. `start()`, publish, `close()`; thread-safe publishing."""

    def __init__(
        self,
        config: MqttConfig,
        node_id: str,
        *,
        cameras: Sequence[str] = (),
        software_version: str = SOFTWARE_VERSION,
        outbox: Outbox | None = None,
    ) -> None:
        topics.node_prefix(node_id)  # validates the id as a topic level
        self.config = config
        self.node_id = node_id
        self.cameras = list(cameras)
        self.software_version = software_version
        self.outbox = outbox or Outbox(
            config.outbox_path or default_outbox_path(node_id),
            max_bytes=config.outbox_max_bytes,
            max_messages=config.outbox_max_messages,
            synchronous=config.outbox_synchronous,  # type: ignore[arg-type]
        )
        self.started_at = time.monotonic()
        self.restarts = 0
        self.refused = 0  # messages the full outbox would not take
        self._handlers: dict[str, CommandHandler] = {}
        self._events: queue.SimpleQueue[tuple[Any, ...]] = queue.SimpleQueue()
        self._commands: queue.SimpleQueue[tuple[str, bytes, Any] | None] = queue.SimpleQueue()
        self._seen_commands: collections.OrderedDict[str, CommandAck] = collections.OrderedDict()
        self._connected = threading.Event()
        self._closing = False
        self._subscribed = threading.Event()  # the broker granted the command subscription
        self._changed = threading.Condition()
        self.outbox.on_commit = self._committed
        self._threads: list[threading.Thread] = []
        self._client = self._make_client()

    # -- set-up -----------------------------------------------------------------------------
    def _make_client(self) -> paho.Client:
        cfg = self.config
        client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=cfg.client_id or f"roadguard-{self.node_id}",
            protocol=paho.MQTTv5,
        )
        client.enable_logger(logging.getLogger("mqtt.paho"))
        if cfg.username is not None:
            password = cfg.password.get_secret_value() if cfg.password else None
            client.username_pw_set(cfg.username, password)
        if cfg.tls is not None:
            client.tls_set(
                ca_certs=str(cfg.tls.ca_file) if cfg.tls.ca_file else None,
                certfile=str(cfg.tls.cert_file) if cfg.tls.cert_file else None,
                keyfile=str(cfg.tls.key_file) if cfg.tls.key_file else None,
            )
            client.tls_insecure_set(cfg.tls.insecure)
        client.max_inflight_messages_set(cfg.max_inflight)
        client.max_queued_messages_set(0)  # the outbox bounds what we hand over
        client.reconnect_delay_set(cfg.reconnect_min_s, cfg.reconnect_max_s)  # type: ignore[arg-type]
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def on_command(self, verb: str, handler: CommandHandler) -> None:
        """Register what `verb` does. The handler gets the validated `Command`; what it
        returns goes into the ack's `result`; an exception becomes an `error` ack."""
        topics.command_topic(self.node_id, verb)
        self._handlers[verb] = handler

    def start(self) -> None:
        """Connect in the background (retrying while the broker is unreachable) and start
        sending what the outbox holds."""
        self.restarts = self.outbox.count_restart()
        will = self._status("offline")
        self._client.will_set(topics.status_topic(self.node_id), will.to_json(), qos=1, retain=True)
        connect = Properties(PacketTypes.CONNECT)
        connect.SessionExpiryInterval = self.config.session_expiry_s
        self._client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=False,
            properties=connect,
        )
        self._client.loop_start()
        for target, name in ((self._dispatch, "outbox"), (self._run_commands, "commands")):
            thread = threading.Thread(target=target, name=f"mqtt-{name}-{self.node_id}")
            thread.daemon = True
            thread.start()
            self._threads.append(thread)

    def close(self, timeout: float = 5.0) -> None:
        """Say `offline` (retained), disconnect cleanly, stop the threads. What the outbox
        still holds stays on disk for the next start."""
        if self._connected.is_set():
            info = self._client.publish(
                topics.status_topic(self.node_id),
                self._status("offline").to_json(),
                qos=1,
                retain=True,
            )
            with contextlib.suppress(RuntimeError, ValueError):  # the link dropped meanwhile
                info.wait_for_publish(timeout)
        self._events.put(("stop",))
        self._commands.put(None)
        for thread in self._threads:
            thread.join(timeout)
        self._closing = True  # what follows is a goodbye, not a lost link
        # paho's network thread logs "Client is not connected" at ERROR once the socket it
        # just closed on purpose is gone; a clean stop should read as a clean stop.
        self._client.disable_logger()
        self._client.disconnect()
        self._client.loop_stop()
        self.outbox.close()

    # -- state ------------------------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def wait_connected(self, timeout: float) -> bool:
        """True once connected *and* subscribed to commands (SUBACK seen)."""
        return self._subscribed.wait(timeout) and self._connected.is_set()

    def wait_drained(self, timeout: float) -> bool:
        """True once the outbox is empty (everything acknowledged) within `timeout`."""
        with self._changed:
            return self._changed.wait_for(lambda: self.outbox.depth == 0, timeout)

    # -- publishing -------------------------------------------------------------------------
    def publish_episode(self, record: EpisodeRecord) -> str | None:
        """Queue one episode record, as this node's. Returns the message id. Raises
        OutboxFull, or pydantic's ValidationError for a record off the contract."""
        topic = topics.episode_topic(self.node_id, record.camera_id)
        own = record.model_copy(update={"node_id": self.node_id})

        envelope = Episode.from_record(own, seq=0)  # validated here, numbered in the commit

        def build(seq: int) -> Message:
            payload = envelope.with_seq(seq)
            return Message("episode", topic, payload.to_json(), str(payload.id), _json_props())

        return self._enqueue("episode", build)

    def publish_evidence(self, camera_id: str, root: Path, reference: str) -> str | None:
        """Queue the evidence file `root/<episode-id>/<name>` named by an episode record's
        `evidence` reference. The outbox row refers to the file (read again at send time),
        so the picture is kept once, in the evidence folder; its `Evidence` metadata (size,
        sha256: the centre checks both) rides in the user property `roadguard-meta`.
        Raises FileNotFoundError when the file is not there. Returns the message id."""
        episode_id, _, name = reference.partition("/")
        path = (root / reference).resolve()
        data = path.read_bytes()
        captured_at = datetime.fromtimestamp(path.stat().st_mtime).astimezone()
        topic = topics.evidence_topic(self.node_id, camera_id, episode_id, name)
        digest = hashlib.sha256(data).hexdigest()
        kind = content_type_of(name) or EVIDENCE_CONTENT_TYPE

        unnumbered = Evidence.build(
            seq=0,
            node_id=self.node_id,
            camera_id=camera_id,
            episode_id=episode_id,
            name=name,
            content_type=kind,
            size=len(data),
            sha256=digest,
            captured_at=captured_at,
        )

        def build(seq: int) -> Message:
            meta = unnumbered.with_seq(seq)
            props = {
                "content_type": kind,
                "user": [[EVIDENCE_META_PROPERTY, meta.to_json().decode()]],
            }
            return Message("evidence", topic, b"", str(meta.id), props, payload_file=str(path))

        return self._enqueue("evidence", build)

    def publish_health(
        self,
        cameras: Sequence[CameraHealth | dict[str, Any]] = (),
        *,
        detector_latency_ms: float | None = None,
        **extra: Any,
    ) -> str | None:
        """Queue a health report; the outbox depth, free disk and uptime are filled in
        (`extra`: the other `Health` fields, e.g. announcements). Returns None when a full
        outbox refused it (health is the droppable kind)."""
        free = shutil.disk_usage(self.outbox.path.parent).free
        topic = topics.health_topic(self.node_id)

        def build(seq: int) -> Message:
            payload = Health.build(
                seq=seq,
                node_id=self.node_id,
                cameras=list(cameras),
                detector_latency_ms=detector_latency_ms,
                outbox_depth=self.outbox.depth,
                outbox_bytes=self.outbox.size_bytes,
                disk_free_bytes=free,
                uptime_s=round(time.monotonic() - self.started_at, 3),
                **extra,
            )
            return Message("health", topic, payload.to_json(), str(payload.id), _json_props())

        return self._enqueue("health", build)

    def _enqueue(self, kind: str, build: Callable[[int], Message]) -> str | None:
        try:
            message = self.outbox.enqueue(kind, build)  # type: ignore[arg-type]
        except OutboxFull:
            self.refused += 1
            raise
        if message is None:
            return None
        return message.msg_id  # the outbox's `on_commit` woke the dispatcher

    def _status(self, state: str) -> Status:
        return Status.build(
            seq=self.outbox.next_seq(),
            node_id=self.node_id,
            state=state,
            software_version=self.software_version,
            cameras=self.cameras,
            restarts=self.restarts,
            online_since=utc_now() if state == "online" else None,
        )

    def _committed(self, stored: int) -> None:
        """After each outbox commit: new rows wake the dispatcher (once per commit, not per
        row); rows gone (bookkeeping the dispatcher did not wait for) wake `wait_drained`."""
        if stored:
            self._events.put(("wake",))
        with self._changed:
            self._changed.notify_all()

    # -- paho callbacks (network thread: only hand events over) ------------------------------
    def _on_connect(self, client: paho.Client, userdata, flags, reason, properties) -> None:
        if reason.is_failure:
            log.error("broker refused the connection: %s", reason)
            return
        log.info(
            "connected to %s:%d (session present: %s)",
            self.config.host,
            self.config.port,
            flags.session_present,
        )
        client.publish(topics.status_topic(self.node_id), self._status("online").to_json(), 1, True)
        mine = [topics.command_subscription(self.node_id), topics.receipts_topic(self.node_id)]
        client.subscribe([(topic, 1) for topic in mine])
        self._connected.set()
        self._events.put(("connected",))

    def _on_disconnect(self, client, userdata, flags, reason, properties) -> None:
        if self._closing:
            log.info("disconnected from broker: %s", reason)
        elif self._connected.is_set():
            log.warning("disconnected from broker: %s", reason)
        self._connected.clear()
        self._subscribed.clear()
        self._events.put(("disconnected",))

    def _on_subscribe(self, client, userdata, mid: int, reasons, properties) -> None:
        if any(r.is_failure for r in reasons):
            log.error(
                "broker refused the command or receipts subscription (%s): its ACL must let "
                "this node read %s/cmd/+ and %s/receipts (roadguard broker config)",
                reasons,
                topics.node_prefix(self.node_id),
                topics.node_prefix(self.node_id),
            )
            return
        self._subscribed.set()

    def _on_publish(self, client, userdata, mid: int, reason, properties) -> None:
        self._events.put(("ack", mid, reason))

    def _on_message(self, client, userdata, message: paho.MQTTMessage) -> None:
        if message.topic == topics.receipts_topic(self.node_id):
            self._events.put(("receipt", bytes(message.payload), message.properties))
        else:
            self._commands.put((message.topic, bytes(message.payload), message.properties))

    # -- the dispatcher: the only thread that hands outbox rows to paho ---------------------
    def _dispatch(self) -> None:
        handed: dict[int, tuple[int, str]] = {}  # paho mid -> (outbox rowid, kind), this process
        last_fresh = 0  # the newest never-sent row handed to paho
        while True:
            try:
                events = [self._events.get(timeout=1.0)]
            except queue.Empty:
                events = []
            while True:
                try:
                    events.append(self._events.get_nowait())
                except queue.Empty:
                    break
            if self._handle(events, handed):
                break
            if self._connected.is_set() and len(handed) < self.config.max_inflight:
                last_fresh = self._send_more(handed, last_fresh)
            with self._changed:
                self._changed.notify_all()

    def _handle(self, events: list[tuple[Any, ...]], handed: dict[int, tuple[int, str]]) -> bool:
        """Apply PUBACKs, receipts and reconnects to the outbox. True on `stop`."""
        cfg = self.config
        sent, done = [], []
        stop = False
        for event in events:
            match event[0]:
                case "ack":
                    rowid, kind = handed.pop(event[1], (None, ""))
                    if rowid is None:
                        continue  # a status publish, not an outbox row
                    if event[2].is_failure:
                        self.outbox.bury(rowid, str(event[2]))
                    elif cfg.await_receipts and kind in RECEIPTED:
                        sent.append(rowid)
                    else:
                        done.append(rowid)
                case "receipt":
                    self._apply_receipt(event[1], event[2])
                case "connected" if cfg.await_receipts:
                    self.outbox.retry_now(time.time())
                case "stop":
                    stop = True
        # The dispatcher does not wait for these to commit (a lost one means one resend): it
        # goes on handing rows to paho while the cameras' next commit takes them along.
        if sent:
            self.outbox.mark_sent(
                sent, time.time(), cfg.receipt_timeout_s, cfg.receipt_timeout_max_s, wait=False
            )
        if done:
            self.outbox.acknowledge(done, wait=False)
        return stop

    def _apply_receipt(self, payload: bytes, properties: Any) -> None:
        try:
            receipt = validate_message(topics.receipts_topic(self.node_id), payload, properties)
        except Rejected as exc:
            log.warning("ignored a malformed receipt: %s", exc)
            return
        assert isinstance(receipt.payload, Receipt)
        self.outbox.settle((str(i) for i in receipt.payload.ids), wait=False)
        for refusal in receipt.payload.refused:
            self.outbox.refused_by_centre(str(refusal.id), refusal.reason)

    def _send_more(self, handed: dict[int, tuple[int, str]], last_fresh: int) -> int:
        """Hand paho the overdue re-sends, then never-sent rows, within both windows.
        Returns the new `last_fresh`."""
        cfg = self.config
        room = cfg.max_inflight - len(handed)
        now = time.time()
        retries: list[Any] = []
        if cfg.await_receipts:
            in_paho = {rowid for rowid, _kind in handed.values()}
            retries = [r for r in self.outbox.due(now, room) if r.rowid not in in_paho]
            if retries:
                self.outbox.postpone([r.rowid for r in retries], now + cfg.receipt_timeout_s)
            room -= len(retries)
            room = min(room, cfg.receipt_window - self.outbox.awaiting() - len(handed))
        fresh = self.outbox.fresh(after=last_fresh, limit=room) if room > 0 else []
        for n, stored in enumerate([*retries, *fresh]):
            message = stored.message
            try:
                body = message.body()
            except OSError as exc:
                self.outbox.bury(stored.rowid, f"evidence file unreadable: {exc}")
                if n >= len(retries):
                    last_fresh = stored.rowid
                continue
            info = self._client.publish(
                message.topic,
                body,
                qos=message.qos,
                retain=message.retain,
                properties=_publish_properties(message),
            )
            if info.rc not in (MQTTErrorCode.MQTT_ERR_SUCCESS, MQTTErrorCode.MQTT_ERR_NO_CONN):
                log.warning("paho would not take row %d: %s", stored.rowid, info.rc)
                break  # try again on the next event or tick
            handed[info.mid] = (stored.rowid, message.kind)
            if n >= len(retries):
                last_fresh = stored.rowid
        return last_fresh

    # -- commands ---------------------------------------------------------------------------
    def _run_commands(self) -> None:
        while (item := self._commands.get()) is not None:
            topic, payload, properties = item
            try:
                ack = self._answer(topic, payload, properties)
            except Exception:  # a handler bug must not kill the command thread
                log.exception("command on %s failed", topic)
                continue
            if ack is not None:
                self._send_ack(ack)

    def _answer(self, topic: str, payload: bytes, properties: Any) -> dict[str, Any] | None:
        verb = topic.rsplit("/", 1)[-1]
        try:
            command = validate_message(topic, payload, properties).payload
        except Rejected as exc:
            log.warning("rejected command on %s: %s", topic, exc)
            return {"command_id": None, "verb": verb, "status": "rejected", "detail": str(exc)}
        assert isinstance(command, Command)
        key = str(command.id)
        if key in self._seen_commands:  # QoS 1 redelivery: answer again, do not run again
            return self._seen_commands[key]
        answer: dict[str, Any] = {"command_id": command.id, "verb": command.verb}
        handler = self._handlers.get(command.verb)
        if command.expires_at is not None and command.expires_at < utc_now():
            answer |= {"status": "expired", "detail": f"expired at {command.expires_at}"}
        elif handler is None:
            answer |= {"status": "unsupported", "detail": f"no handler for {command.verb!r}"}
        else:
            try:
                result = handler(command) or {}
                answer |= {"status": "ok", "result": result}
            except Exception as exc:
                log.exception("command %s %s failed", command.verb, command.id)
                answer |= {"status": "error", "detail": f"{type(exc).__name__}: {exc}"[:2000]}
        self._seen_commands[key] = answer
        while len(self._seen_commands) > 1000:
            self._seen_commands.popitem(last=False)
        return answer

    def _send_ack(self, answer: dict[str, Any]) -> None:
        topic = topics.ack_topic(self.node_id, answer["verb"])

        def build(seq: int) -> Message:
            ack = CommandAck.build(seq=seq, node_id=self.node_id, **answer)
            return Message("ack", topic, ack.to_json(), str(ack.id), _json_props())

        try:
            self._enqueue("ack", build)
        except (OutboxFull, ValidationError, topics.TopicError) as exc:
            log.error("could not queue the ack of %s: %s", answer.get("command_id"), exc)


def _json_props() -> dict[str, Any]:
    return {"content_type": JSON_CONTENT_TYPE}


class MqttEpisodeSink:
    """The edge's `EpisodeSink` (edge/sinks.py) over a `NodeLink`.

    `publish(record)` first queues the evidence files the record references that were not
    sent yet (when `evidence_root` is given), then the episode itself, so the centre tends
    to hold the pictures before the transition that cites them. A full outbox or a record
    off the contract is logged and counted (`refused`, `invalid`), never raised: a camera
    must keep running, and the record and its files stay on the node's disk."""

    def __init__(self, link: NodeLink, evidence_root: Path | None = None) -> None:
        self.link = link
        self.evidence_root = evidence_root
        self.refused = 0
        self.invalid = 0
        self._sent: set[str] = set()
        self._lock = threading.Lock()  # cameras share the sink

    def publish(self, record: EpisodeRecord) -> None:
        try:
            if self.evidence_root is not None:
                for reference in record.evidence:
                    self._send_evidence(record.camera_id, reference)
            self.link.publish_episode(record)
        except OutboxFull as exc:
            self.refused += 1
            log.error("episode %s not sent: %s", record.episode_id, exc)
        except (ValidationError, topics.TopicError) as exc:
            self.invalid += 1
            log.error("episode record off the contract, not sent: %s", exc)
        # Nothing more is captured for an episode after its violation (its ladder is done, and
        # its end sends no record) or its end: forget what was sent for it, or a node running
        # for months keeps every violation's pictures in this set.
        if record.ended:
            prefix = f"{record.episode_id}/"
            with self._lock:
                self._sent = {ref for ref in self._sent if not ref.startswith(prefix)}

    @property
    def remembered(self) -> int:
        """Evidence references held to avoid sending them twice (bounded by open ladders)."""
        with self._lock:
            return len(self._sent)

    def publish_evidence(self, camera_id: str, reference: str) -> str | None:
        """Queue one evidence file by its reference (``<episode-id>/<name>``)."""
        if self.evidence_root is None:
            raise ValueError("MqttEpisodeSink has no evidence_root")
        return self.link.publish_evidence(camera_id, self.evidence_root, reference)

    def _send_evidence(self, camera: str, reference: str) -> None:
        with self._lock:
            if reference in self._sent:
                return
        assert self.evidence_root is not None
        try:
            self.link.publish_evidence(camera, self.evidence_root, reference)
        except FileNotFoundError:
            log.error("evidence %s is referenced but not on disk", reference)
        with self._lock:
            self._sent.add(reference)

    def close(self) -> None:
        self.link.close()
