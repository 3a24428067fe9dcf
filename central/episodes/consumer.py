"""The MQTT consumer: broker -> `central.episodes.ingest` -> a receipt back to the node.

Episodes and evidence come through MQTT v5 shared subscriptions
(`$share/central/roadguard/v1/+/+/episode`, `.../evidence/#`), so several central workers
split the load; node status is a plain subscription, because the broker does not send
retained messages (every node's last birth/death) on a shared one, and every worker may
as well know which nodes are up.

Why it is built this way (design.md, "Delivery"):

- paho's network thread only queues messages; one ingest thread handles them in order, so
  a slow or failing database never stalls keep-alives, and the broker's in-flight window to
  this worker bounds the queue.
- **Batches.** The ingest thread takes what has arrived, up to `BATCH_MAX` messages, and
  stores it in one transaction (`ingest_batch`): one commit and a few round trips per batch
  instead of per message. It never waits to fill a batch: a lone message goes at once, and
  under load the queue fills them. Every message of a batch is acknowledged to the broker
  (paho manual ack) only after that transaction committed, so a worker killed mid-batch
  leaves all of it with the broker. If the batch fails for good, its messages are stored
  again one at a time, so the one no database holds becomes a dead letter and the rest
  are stored.
- **End-to-end receipts.** Once a message's effect is committed (or it was a re-send of a
  committed one), its id goes into a `Receipt` to its node, batched per node for up to
  `RECEIPT_BATCH` ids or `RECEIPT_DELAY_S`. The node forgets an outbox row only then, so
  what a broker loses (a restart that drops a shared subscription, a SIGKILL before its
  autosave) is re-sent by the node, and ingest's idempotency on `id` absorbs the repeats.
- **Permanent errors never block.** A message that can never be stored (off the contract,
  values no database holds, another node's episode, a bug in ingest) is written to the
  dead-letter table with its raw payload and reason, acknowledged, and refused in the
  receipt: it is handled exactly once and the next message goes on.
- **Transient errors are retried.** A database that is down or locked is retried in place
  with back-off (every message needs it). A full evidence disk is not: that picture is
  acknowledged to the broker without a receipt, so the node re-sends it later, and the
  episodes behind it, which need no disk, go on.
"""

from __future__ import annotations

import json
import logging
import os
import queue
import socket
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from uuid import UUID

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import exc as sa_exc

from central.centre import Centre
from central.episodes.dead_letters import dead_letter, store_dead_letters
from central.episodes.ingest import (
    IngestError,
    IngestResult,
    Item,
    Outcome,
    ingest_batch,
    prepare_evidence,
)
from central.models import DeadLetter
from mqtt import topics
from mqtt.payloads import EVIDENCE_META_PROPERTY, Episode, Evidence, Receipt, Refusal, Status
from mqtt.receive import Received, Rejected, user_properties, validate_message

log = logging.getLogger(__name__)

BATCH_MAX = 100  # messages per transaction, at most (the broker's in-flight window is 100)
RECEIPT_BATCH = 200  # ids per receipt message, at most
RECEIPT_DELAY_S = 0.05  # how long an id may wait for others to share its receipt
RETRY_FIRST_S, RETRY_MAX_S = 0.2, 30.0  # back-off while the database is unavailable

T = TypeVar("T")


def subscriptions(group: str) -> list[str]:
    return [
        topics.shared(topics.ALL_EPISODES, group),
        topics.shared(topics.ALL_EVIDENCE, group),
        topics.ALL_STATUS,
    ]


def is_transient(error: BaseException) -> bool:
    """Whether trying the same message again later can succeed: the database is down,
    locked or gone away (OperationalError, a lost connection, a pool time-out), or the disk
    is full (OSError). Everything else (a DataError for a value PostgreSQL will not hold,
    an OverflowError from SQLite, a bug) would fail the same way for ever."""
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    return isinstance(
        error,
        sa_exc.OperationalError | sa_exc.InterfaceError | sa_exc.TimeoutError | OSError,
    )


class ReceiptBook:
    """Ids settled at the centre, per node, until they go out in a receipt."""

    def __init__(self) -> None:
        self.ids: dict[str, list[UUID]] = defaultdict(list)
        self.refused: dict[str, list[Refusal]] = defaultdict(list)
        self.size = 0
        self.oldest: float | None = None  # monotonic time of the oldest waiting id

    def add(self, node: str, message_id: UUID, refusal: str | None = None) -> None:
        if refusal is None:
            self.ids[node].append(message_id)
        else:
            self.refused[node].append(Refusal(id=message_id, reason=refusal[:500]))
        self.size += 1
        if self.oldest is None:
            self.oldest = time.monotonic()

    def take(self) -> list[tuple[str, list[UUID], list[Refusal]]]:
        nodes = set(self.ids) | set(self.refused)
        batches = [(n, self.ids.pop(n, []), self.refused.pop(n, [])) for n in sorted(nodes)]
        self.size, self.oldest = 0, None
        return batches


class EpisodeConsumer:
    """One central worker's MQTT connection. `start()` connects in the background and keeps
    reconnecting; `stop()` disconnects. `counts` says what happened to the messages."""

    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self.config = centre.settings.mqtt
        self.counts: Counter[str] = Counter()
        self.subscribed = threading.Event()
        self._changed = threading.Condition()
        self._inbox: queue.SimpleQueue[paho.MQTTMessage | None] = queue.SimpleQueue()
        self._receipts = ReceiptBook()
        self._receipt_seq = 0
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="central-ingest", daemon=True)
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
        if self.config.tls:
            self.client.tls_set(ca_certs=str(self.config.tls_ca_file or "") or None)
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
        self._worker.start()
        self.client.connect_async(
            self.config.host,
            self.config.port,
            keepalive=self.config.keepalive_s,
            clean_start=not self._persistent,
            properties=connect,
        )
        self.client.loop_start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the message in hand, send the receipts owed, disconnect."""
        self._stopping.set()
        self._inbox.put(None)
        if self._worker.is_alive():
            self._worker.join(timeout)
        self.client.disable_logger()  # paho logs its own clean disconnect at ERROR
        self.client.disconnect()
        self.client.loop_stop()

    def wait_until(self, predicate: Any, timeout: float = 10.0) -> bool:
        """Block until `predicate(counts)` holds (tests and benchmarks: no sleeping)."""
        with self._changed:
            return self._changed.wait_for(lambda: predicate(self.counts), timeout)

    # -- paho callbacks (network thread: only hand over) ------------------------------------
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

    def _on_subscribe(self, _c: Any, _u: Any, _mid: int, reasons: Any, _p: Any) -> None:
        if any(r.is_failure for r in reasons):
            log.error(
                "broker refused a subscription (%s): check the central account's ACL", reasons
            )
            return
        self.subscribed.set()

    def _on_disconnect(self, *_args: Any) -> None:
        self.subscribed.clear()

    def _on_message(self, _c: paho.Client, _u: Any, message: paho.MQTTMessage) -> None:
        self._inbox.put(message)

    # -- the ingest thread ------------------------------------------------------------------
    def _count(self, what: str) -> None:
        with self._changed:
            self.counts[what] += 1
            self._changed.notify_all()

    def _work(self) -> None:
        stopping = False
        while not stopping:
            wait = None
            if self._receipts.oldest is not None:
                wait = max(0.0, self._receipts.oldest + RECEIPT_DELAY_S - time.monotonic())
            try:
                first = self._inbox.get(timeout=wait)
            except queue.Empty:
                self._send_receipts()
                continue
            batch, stopping = self._batch(first)
            if batch:
                try:
                    self._handle_batch(batch)
                except _Stopping:
                    break
            if self._receipts.size >= RECEIPT_BATCH or self._receipts_due():
                self._send_receipts()
        self._send_receipts()

    def _batch(self, first: paho.MQTTMessage | None) -> tuple[list[paho.MQTTMessage], bool]:
        """`first` and what else has arrived meanwhile, up to `BATCH_MAX` (never waiting: a
        lone message is not held back; under load the batches fill themselves). True when
        `stop()` was asked for (what came before it is still handled)."""
        if first is None:
            return [], True
        batch = [first]
        while len(batch) < BATCH_MAX:
            try:
                message = self._inbox.get_nowait()
            except queue.Empty:
                break
            if message is None:
                return batch, True
            batch.append(message)
        return batch, False

    def _receipts_due(self) -> bool:
        oldest = self._receipts.oldest
        return oldest is not None and time.monotonic() - oldest >= RECEIPT_DELAY_S

    def _handle_batch(self, messages: list[paho.MQTTMessage]) -> None:
        """Validate, store in one transaction, then acknowledge each message in the order it
        came: applied or a duplicate (receipt), a dead letter (refused in the receipt), or
        a picture the full disk could not take (no receipt: the node sends it again)."""
        verdicts: list[_Verdict] = []
        items: list[Item] = []
        for message in messages:
            verdict = self._prepare(message)
            verdicts.append(verdict)
            if verdict.item is not None:
                items.append(verdict.item)
        if items:
            outcomes = self._store(items)
            pending = iter(outcomes)
            for verdict in verdicts:
                if verdict.item is not None:
                    verdict.outcome = outcome = next(pending)
                    if isinstance(outcome, IngestError):
                        verdict.dead = (outcome.reason, str(outcome))
        letters = [v for v in verdicts if v.dead is not None]
        if letters:
            rows = [self._letter(v) for v in letters]
            self._until_stored(lambda: store_dead_letters(self.centre, rows))
        counts: Counter[str] = Counter()
        for verdict in verdicts:
            self._ack(verdict.message)
            counts[self._settle(verdict)] += 1
        with self._changed:
            self.counts.update(counts)
            self._changed.notify_all()

    def _prepare(self, message: paho.MQTTMessage) -> _Verdict:
        """Check one message and make it an ingest item; evidence bytes go to the store now,
        before the transaction that indexes them."""
        verdict = _Verdict(message)
        try:
            received = validate_message(message.topic, message.payload, message.properties)
        except Rejected as exc:
            verdict.dead = (exc.category, exc.detail)
            return verdict
        except Exception as exc:  # a bug must not stop ingest: keep the message, say why
            log.exception("receiver failed on %r", message.topic[:200])
            verdict.dead = ("internal-error", f"{type(exc).__name__}: {exc}")
            return verdict
        verdict.received = received
        payload = received.payload
        if isinstance(payload, Episode | Status):
            verdict.item = payload
        elif isinstance(payload, Evidence):
            assert received.data is not None
            data = received.data
            try:
                verdict.item = self._until_stored(
                    lambda: prepare_evidence(self.centre, data, payload)
                )
            except IngestError as exc:
                verdict.dead = (exc.reason, str(exc))
            except OSError as exc:
                # A full evidence disk: not this worker's to wait out. The broker is answered
                # so the flow goes on; without a receipt the node sends the picture again.
                log.error(
                    "could not store %s (%s); the node will send it again", message.topic, exc
                )
                verdict.deferred = True
            except _Stopping:
                raise
            except Exception as exc:  # would fail the same way every time: dead-letter it
                log.exception("evidence failed for good on %s", message.topic[:200])
                verdict.dead = ("unstorable", f"{type(exc).__name__}: {exc}")
        else:
            verdict.dead = ("wrong-topic", f"unexpected payload {payload.schema_}")
        return verdict

    def _store(self, items: list[Item]) -> list[Outcome]:
        """One transaction for the batch (retried while the database is unavailable). When it
        fails for good, one of its messages is one no database holds: apply them one by one,
        so that one becomes a dead letter and the others are stored."""
        try:
            return self._until_stored(lambda: ingest_batch(self.centre, items))
        except _Stopping:
            raise
        except Exception as exc:
            if len(items) == 1:
                return [_unstorable(exc)]
            log.warning("a batch of %d failed (%s); storing them one by one", len(items), exc)
        outcomes: list[Outcome] = []
        for item in items:
            try:
                outcomes += self._until_stored(lambda item=item: ingest_batch(self.centre, [item]))
            except _Stopping:
                raise
            except Exception as exc:
                outcomes.append(_unstorable(exc))
        return outcomes

    def _settle(self, verdict: _Verdict) -> str:
        """Note the receipt owed for one handled message; returns what to count."""
        message, received, outcome = verdict.message, verdict.received, verdict.outcome
        if verdict.dead is not None:
            reason, detail = verdict.dead
            node, message_id = _sender(message, received)
            if node is not None and message_id is not None and _is_receipted(message.topic):
                self._receipts.add(node, message_id, f"{reason}: {detail}")
            return f"dead:{reason}"
        assert received is not None
        kind = received.topic.kind
        if verdict.deferred:
            return f"{kind}:deferred"
        assert isinstance(outcome, IngestResult)
        if kind in ("episode", "evidence"):
            self._receipts.add(received.topic.node, received.payload.id)
        return f"{kind}:{'applied' if outcome.applied else 'duplicate'}"

    def _letter(self, verdict: _Verdict) -> DeadLetter:
        assert verdict.dead is not None
        message = verdict.message
        reason, detail = verdict.dead
        node, message_id = _sender(message, verdict.received)
        log.warning("dead letter from %s on %r: %s: %s", node, message.topic[:200], reason, detail)
        return dead_letter(
            self.centre,
            topic=message.topic,
            payload=bytes(message.payload),
            meta=user_properties(message.properties).get(EVIDENCE_META_PROPERTY),
            node_id=node,
            message_id=str(message_id) if message_id else None,
            reason=reason,
            detail=detail,
        )

    def _until_stored(self, attempt: Callable[[], T]) -> T:
        """Run `attempt`, retrying a database that is unavailable with back-off, until it
        works or the consumer stops; any other error goes to the caller."""
        delay = RETRY_FIRST_S
        while True:
            try:
                return attempt()
            except Exception as exc:
                if isinstance(exc, OSError) or not is_transient(exc):
                    raise
                self._count("failed")
                log.warning("database unavailable (%s); retrying in %.1f s", exc, delay)
            if self._stopping.wait(delay):
                raise _Stopping
            delay = min(RETRY_MAX_S, delay * 2)

    def _ack(self, message: paho.MQTTMessage) -> None:
        if message.qos > 0:
            self.client.ack(message.mid, message.qos)

    def _send_receipts(self) -> None:
        for node, ids, refused in self._receipts.take():
            for start in range(0, max(len(ids), len(refused)), RECEIPT_BATCH):
                self._receipt_seq = max(self._receipt_seq + 1, time.time_ns() // 1_000_000)
                receipt = Receipt.build(
                    seq=self._receipt_seq,
                    node_id=node,
                    ids=ids[start : start + RECEIPT_BATCH],
                    refused=refused[start : start + RECEIPT_BATCH],
                )
                self.client.publish(topics.receipts_topic(node), receipt.to_json(), qos=1)


class _Stopping(Exception):
    """Internal: the consumer is stopping while it waits for the database."""


@dataclass
class _Verdict:
    """What becomes of one message of a batch."""

    message: paho.MQTTMessage
    received: Received | None = None
    item: Item | None = None  # what goes to ingest
    outcome: Outcome | None = None  # what ingest said
    dead: tuple[str, str] | None = None  # (reason, detail): a dead letter
    deferred: bool = False  # a picture the evidence store could not take now


def _unstorable(exc: Exception) -> IngestError:
    """A message whose transaction failed for good (a value no database holds, a bug)."""
    log.error("ingest failed for good: %s: %s", type(exc).__name__, exc)
    return IngestError(f"{type(exc).__name__}: {exc}", "unstorable")


def _is_receipted(topic: str) -> bool:
    return topic.endswith("/episode") or "/evidence/" in topic


def _sender(message: paho.MQTTMessage, received: Received | None) -> tuple[str | None, UUID | None]:
    """The node whose topic a message came on (the broker's ACL makes that its sender) and
    the message's id, as far as they can be read from a message that may be garbage."""
    if received is not None:
        return received.topic.node, received.payload.id
    try:
        node = topics.parse_topic(message.topic).node
    except topics.TopicError:
        # off the layout below the node: the node level may still be readable
        parts = message.topic.split("/")
        node = parts[2] if len(parts) > 2 and "/".join(parts[:2]) == topics.ROOT else None
        try:
            node = node and topics.node_prefix(node).rsplit("/", 1)[-1]
        except topics.TopicError:
            node = None
    document: Any = user_properties(message.properties).get(EVIDENCE_META_PROPERTY)
    if document is None:
        document = bytes(message.payload)
    try:
        found = json.loads(document).get("id")
        return node, UUID(str(found))
    except (ValueError, TypeError, AttributeError, RecursionError):
        return node, None
