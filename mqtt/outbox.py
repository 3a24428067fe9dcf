"""The node's on-disk outbox: every message is written here before it is sent, so a broker
restart, a cut link or a kill -9 of the edge process loses nothing. paho's own queue lives in
memory and dies with the process.

When a row may leave depends on its kind (design.md, "Delivery"):

- episodes and evidence (`RECEIPTED`) leave only when **the centre** says it committed them
  (a `Receipt` on the node's own `receipts` topic). The broker's PUBACK only marks the row
  sent and schedules a re-send (`due_at`, backing off per attempt), because a broker may lose
  what it acknowledged: Mosquitto 2.0 does not restore an offline client's shared
  subscription after a restart, and a SIGKILLed broker loses what it had not saved yet;
- health and command acks are periodic or best effort: they leave on the PUBACK.

SQLite in WAL mode, `synchronous=FULL` by default: an edge box loses power more often than a
server, and an episode is worth an fsync. The fsync is shared (group commit): messages that
arrive while a commit is under way (cameras and evidence uploads publish at once) are
stored together in the next transaction, and each `enqueue` still returns only once its
own row is on disk. Rows are sent in `rowid` order, which is the order
they were written; `seq` is allocated in the same transaction as the row, so it survives
restarts and never repeats.

When full (`max_bytes` or `max_messages`), the policy is:

1. drop the oldest `health` rows until the new message fits (health is periodic: the next
   one says the same, fresher);
2. if it still does not fit, a new `health` message is refused silently-but-counted
   (`dropped_health`), and anything else raises `OutboxFull`: episodes, evidence and acks
   are never dropped to make room. The caller decides what a refusal means
   (`MqttEpisodeSink` logs an error and keeps the camera running; the files stay on disk).

A "disk full" from SQLite is reported as `OutboxFull` too.

Evidence pictures are not copied in: their row names the file the evidence store wrote
(`payload_file`), read when the row is handed to the broker. The evidence folder is the one
copy; retention keeps an episode's folder while `holds_episode` says a row still needs it.
A file gone by send time is a dead letter, never a silent gap.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

log = logging.getLogger(__name__)

Kind = Literal["episode", "evidence", "health", "ack", "status"]
DROPPABLE: frozenset[str] = frozenset({"health"})
# Kinds the centre ingests through its shared subscription and answers with a receipt.
RECEIPTED: frozenset[str] = frozenset({"episode", "evidence"})

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    rowid      INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    properties TEXT    NOT NULL DEFAULT '{}',
    qos        INTEGER NOT NULL DEFAULT 1,
    retain     INTEGER NOT NULL DEFAULT 0,
    msg_id     TEXT    NOT NULL,
    created_at REAL    NOT NULL,
    size       INTEGER NOT NULL,
    due_at     REAL    NOT NULL DEFAULT 0,
    attempts   INTEGER NOT NULL DEFAULT 0,
    payload_file TEXT
);
CREATE INDEX IF NOT EXISTS messages_kind ON messages(kind, rowid);
CREATE TABLE IF NOT EXISTS dead (
    rowid      INTEGER PRIMARY KEY,
    kind       TEXT    NOT NULL,
    topic      TEXT    NOT NULL,
    payload    BLOB    NOT NULL,
    properties TEXT    NOT NULL,
    msg_id     TEXT    NOT NULL,
    reason     TEXT    NOT NULL,
    failed_at  REAL    NOT NULL,
    payload_file TEXT
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""
# `due_at` 0: never sent (taken in rowid order); > 0: sent, waiting for the centre's receipt,
# to be re-sent at that time (taken in due order).
_INDEXES = """
CREATE INDEX IF NOT EXISTS messages_due ON messages(due_at, rowid);
CREATE INDEX IF NOT EXISTS messages_msg_id ON messages(msg_id);
"""
_ADDED_COLUMNS = {
    "messages": {
        "due_at": "REAL NOT NULL DEFAULT 0",
        "attempts": "INTEGER NOT NULL DEFAULT 0",
        "payload_file": "TEXT",
    },
    "dead": {"payload_file": "TEXT"},
}


class OutboxFull(RuntimeError):
    """The outbox has no room and the message is not one the policy may drop."""


@dataclass(frozen=True)
class Message:
    """One message to send. `properties` holds MQTT v5 extras: `content_type` (str) and
    `user` (list of [key, value] pairs). With `payload_file` the body is that file, read at
    send time (`payload` is then empty): evidence is kept once, where the node wrote it."""

    kind: Kind
    topic: str
    payload: bytes
    msg_id: str
    properties: dict = field(default_factory=dict)
    qos: int = 1
    retain: bool = False
    payload_file: str | None = None

    def body(self) -> bytes:
        """The bytes to publish. Raises OSError when the referenced file cannot be read."""
        if self.payload_file is None:
            return self.payload
        return Path(self.payload_file).read_bytes()


@dataclass(frozen=True)
class Stored:
    rowid: int
    message: Message
    created_at: float


class Outbox:
    """Thread-safe: cameras enqueue from their threads; the link's dispatcher reads and
    deletes from its own."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int = 512 * 1024 * 1024,
        max_messages: int = 200_000,
        synchronous: Literal["FULL", "NORMAL"] = "FULL",
    ) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_bytes = max_bytes
        self.max_messages = max_messages
        self.synchronous = synchronous
        self.dropped_health = 0  # health dropped by the full-outbox policy, this process
        self._lock = threading.RLock()
        self._group = threading.Condition()  # enqueue callers waiting for a group commit
        self._jobs: list[_Job] = []
        self._leading = False  # one caller commits the waiting jobs at a time
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        self._db.executescript(_INDEXES)
        self._count, self._bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages"
        ).fetchone()

    def _add_missing_columns(self) -> None:
        """An outbox written by an older node keeps its rows: they count as never sent."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    # -- counters kept across restarts ------------------------------------------------------
    def _meta(self, key: str) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else 0

    def _bump(self, key: str) -> int:
        value = self._meta(key) + 1
        self._db.execute(
            "INSERT INTO meta(key, value) VALUES(?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )
        return value

    def next_seq(self) -> int:
        """Allocate a `seq` outside an enqueue (status messages that bypass the outbox)."""
        with self._lock, self._transaction():
            return self._bump("seq")

    def last_seq(self) -> int:
        with self._lock:
            return self._meta("seq")

    def produced(self, kind: str) -> int:
        """How many `kind` messages were ever stored (kept across restarts): a producer that
        is killed can resume exactly where its last committed message left off."""
        with self._lock:
            return self._meta(f"produced:{kind}")

    def count_restart(self) -> int:
        """The node's restart counter for its birth message (Sparkplug's bdSeq)."""
        with self._lock, self._transaction():
            return self._bump("restarts")

    # -- writing ----------------------------------------------------------------------------
    def enqueue(self, kind: Kind, build: Callable[[int], Message]) -> Message | None:
        """Allocate the next `seq`, build the message with it and store it, atomically, so
        rows and seqs come out in the same order; durable (fsync) when this returns. Returns
        None for a refused health message; raises OutboxFull for anything else that does
        not fit.

        Group commit: callers that arrive while a commit is under way are stored together
        in the next transaction, by whichever of them gets there first, with one fsync for
        all of them; each still returns only once its own row is on disk."""
        job = _Job(kind, build)
        with self._group:
            self._jobs.append(job)
            while not job.done:
                if not self._leading:
                    self._leading = True
                    jobs, self._jobs = self._jobs, []
                    break
                self._group.wait()
            else:
                return job.outcome()
        try:
            self._commit_jobs(jobs)
        finally:
            with self._group:
                self._leading = False
                for done in jobs:
                    done.done = True
                self._group.notify_all()
        return job.outcome()

    def _commit_jobs(self, jobs: list[_Job]) -> None:
        """One transaction, one savepoint per job (a refused job takes back only its own
        rows), one commit."""
        with self._lock:
            saved = (self._count, self._bytes)
            try:
                with self._transaction():
                    for job in jobs:
                        self._db.execute("SAVEPOINT job")
                        before = (self._count, self._bytes)
                        try:
                            job.result = self._store_one(job.kind, job.build)
                        except BaseException as exc:  # noqa: BLE001 - handed to its caller
                            self._db.execute("ROLLBACK TO job")
                            self._count, self._bytes = before
                            job.result, job.error = None, exc
                        self._db.execute("RELEASE job")
            except sqlite3.OperationalError as exc:
                self._count, self._bytes = saved
                full = "full" in str(exc).lower()
                error = OutboxFull(f"outbox disk full: {exc}") if full else exc
                for job in jobs:
                    if job.error is None:
                        job.result, job.error = None, error

    def _store_one(self, kind: Kind, build: Callable[[int], Message]) -> Message | None:
        message = build(self._bump("seq"))
        if message.kind != kind:
            raise ValueError(f"built a {message.kind} message for kind {kind}")
        size = _row_size(message)
        if not self._make_room(size):
            if kind in DROPPABLE:
                self.dropped_health += 1
                log.warning("outbox full: dropping new %s message", kind)
                raise _Refused
            raise OutboxFull(
                f"outbox full ({self._count} messages, {self._bytes} bytes; limit "
                f"{self.max_messages} / {self.max_bytes}): {kind} {message.msg_id} "
                "not queued; only episodes/evidence/acks remain, none are dropped"
            )
        self._insert(message, size)
        self._bump(f"produced:{kind}")
        return message

    def put(self, message: Message) -> None:
        """Store a message that needs no new seq (tests, re-queued dead letters)."""
        if self.enqueue(message.kind, lambda _seq: message) is None:
            return

    def _insert(self, message: Message, size: int) -> None:
        self._db.execute(
            "INSERT INTO messages(kind, topic, payload, properties, qos, retain, msg_id, "
            "created_at, size, payload_file) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                message.kind,
                message.topic,
                message.payload,
                json.dumps(message.properties),
                message.qos,
                int(message.retain),
                message.msg_id,
                time.time(),
                size,
                message.payload_file,
            ),
        )
        self._count += 1
        self._bytes += size

    def _make_room(self, size: int) -> bool:
        """Drop the oldest health rows until `size` more fits; False (dropping nothing) if
        even dropping every health row would not make room."""
        if self._count + 1 <= self.max_messages and self._bytes + size <= self.max_bytes:
            return True
        health_count, health_bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages WHERE kind = 'health'"
        ).fetchone()
        if (
            self._count - health_count + 1 > self.max_messages
            or self._bytes - health_bytes + size > self.max_bytes
        ):
            return False
        while self._count + 1 > self.max_messages or self._bytes + size > self.max_bytes:
            rowid, row_size = self._db.execute(
                "SELECT rowid, size FROM messages WHERE kind = 'health' ORDER BY rowid LIMIT 1"
            ).fetchone()
            self._db.execute("DELETE FROM messages WHERE rowid = ?", (rowid,))
            self._count -= 1
            self._bytes -= row_size
            self.dropped_health += 1
            log.warning("outbox full: dropped the oldest health message (row %d)", rowid)
        return True

    # -- reading and acknowledging ----------------------------------------------------------
    def pending(self, after: int = 0, limit: int = 100) -> list[Stored]:
        """Messages waiting (sent or not), in the order they were written, after `after`."""
        return self._select("WHERE rowid > ? ORDER BY rowid LIMIT ?", after, limit)

    def fresh(self, after: int = 0, limit: int = 100) -> list[Stored]:
        """Never-sent messages after rowid `after`, in the order they were written."""
        return self._select("WHERE due_at = 0 AND rowid > ? ORDER BY rowid LIMIT ?", after, limit)

    def due(self, now: float, limit: int = 100) -> list[Stored]:
        """Sent messages whose receipt is overdue at `now`, most overdue first."""
        return self._select(
            "WHERE due_at > 0 AND due_at <= ? ORDER BY due_at, rowid LIMIT ?", now, limit
        )

    def _select(self, where: str, *params: object) -> list[Stored]:
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid, kind, topic, payload, properties, qos, retain, msg_id, created_at, "
                f"payload_file FROM messages {where}",
                params,
            ).fetchall()
        return [_stored(row) for row in rows]

    def awaiting(self) -> int:
        """Messages sent and not yet confirmed by the centre."""
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM messages WHERE due_at > 0").fetchone()[0]

    def mark_sent(self, rowids: Iterable[int], now: float, timeout: float, longest: float) -> int:
        """The broker has them (PUBACK): wait for the centre's receipt until `now` plus a
        timeout that doubles with each attempt up to `longest`. Returns rows still present
        (a receipt may have settled one already)."""
        ids = [(now, timeout, longest, r) for r in rowids]
        if not ids:
            return 0
        with self._lock, self._transaction(durable=False):
            marked = 0
            for params in ids:
                marked += self._db.execute(
                    "UPDATE messages SET attempts = attempts + 1, "
                    "due_at = ? + MIN(? * (1 << MIN(attempts, 20)), ?) WHERE rowid = ?",
                    params,
                ).rowcount
            return marked

    def postpone(self, rowids: Iterable[int], until: float) -> None:
        """Handed to the broker again: not due again before `until` (its PUBACK re-marks it)."""
        ids = [(until, r) for r in rowids]
        with self._lock, self._transaction(durable=False):
            self._db.executemany("UPDATE messages SET due_at = ? WHERE rowid = ?", ids)

    def retry_now(self, now: float) -> int:
        """Make every message waiting for a receipt due at once (after a reconnect: the broker
        we talk to now may not hold what the previous connection handed over)."""
        with self._lock, self._transaction(durable=False):
            return self._db.execute(
                "UPDATE messages SET due_at = ? WHERE due_at > ?", (now, now)
            ).rowcount

    def settle(self, msg_ids: Iterable[str]) -> int:
        """The centre committed them: delete, in one transaction. Returns how many went."""
        ids = [(m,) for m in msg_ids]
        if not ids:
            return 0
        with self._lock, self._transaction(durable=False):
            gone = 0
            for params in ids:
                for (size,) in self._db.execute(
                    "DELETE FROM messages WHERE msg_id = ? RETURNING size", params
                ).fetchall():
                    gone += 1
                    self._count -= 1
                    self._bytes -= size
            return gone

    def refused_by_centre(self, msg_id: str, reason: str) -> None:
        """The centre keeps it in its dead letters: keep a copy aside here too, stop sending."""
        with self._lock:
            rows = self._db.execute(
                "SELECT rowid FROM messages WHERE msg_id = ?", (msg_id,)
            ).fetchall()
        for (rowid,) in rows:
            self.bury(rowid, f"refused by the centre: {reason}")

    def acknowledge(self, rowids: Iterable[int]) -> int:
        """The broker has them and nothing more is awaited (health, command acks): delete, in
        one transaction. Returns how many went."""
        ids = [(r,) for r in rowids]
        if not ids:
            return 0
        with self._lock, self._transaction(durable=False):
            gone = 0
            for (rowid,) in ids:
                row = self._db.execute(
                    "DELETE FROM messages WHERE rowid = ? RETURNING size", (rowid,)
                ).fetchone()
                if row is not None:
                    gone += 1
                    self._count -= 1
                    self._bytes -= row[0]
            return gone

    def bury(self, rowid: int, reason: str) -> None:
        """The broker refused it for good (e.g. not authorised): keep it aside, stop resending."""
        with self._lock, self._transaction():
            row = self._db.execute(
                "DELETE FROM messages WHERE rowid = ? "
                "RETURNING kind, topic, payload, properties, msg_id, size, payload_file",
                (rowid,),
            ).fetchone()
            if row is None:
                return
            kind, topic, payload, props, msg_id, size, payload_file = row
            self._count -= 1
            self._bytes -= size
            self._db.execute(
                "INSERT OR REPLACE INTO dead(rowid, kind, topic, payload, properties, msg_id, "
                "reason, failed_at, payload_file) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rowid, kind, topic, payload, props, msg_id, reason, time.time(), payload_file),
            )
        log.error("outbox: %s %s on %s not delivered: %s", kind, msg_id, topic, reason)

    def dead_letters(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return self._db.execute(
                "SELECT kind, topic, reason FROM dead ORDER BY rowid"
            ).fetchall()

    def holds_episode(self, episode_id: str) -> bool:
        """Whether anything of this episode (a transition or a picture) still waits for the
        centre's receipt: its evidence must not be deleted yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM messages WHERE (kind = 'evidence' AND topic LIKE ?) "
                "OR (kind = 'episode' AND instr(payload, ?) > 0) LIMIT 1",
                (f"%/evidence/{episode_id}/%", episode_id.encode()),
            ).fetchone()
        return row is not None

    # -- state ------------------------------------------------------------------------------
    @property
    def depth(self) -> int:
        return self._count

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _transaction(self, durable: bool = True) -> _Transaction:
        return _Transaction(self, durable)


def _stored(row: tuple) -> Stored:
    rowid, kind, topic, payload, props, qos, retain, msg_id, created_at, payload_file = row
    message = Message(
        kind, topic, bytes(payload), msg_id, json.loads(props), qos, bool(retain), payload_file
    )
    return Stored(rowid, message, created_at)


def _row_size(message: Message) -> int:
    """What the row costs the outbox's budget: a referenced file is the evidence store's to
    budget (retention), so only its name counts here."""
    body = message.payload_file.encode() if message.payload_file else message.payload
    return len(body) + len(message.topic)


class _Refused(Exception):
    """Internal: roll back a refused droppable message."""


@dataclass
class _Job:
    """One `enqueue` waiting for a group commit."""

    kind: Kind
    build: Callable[[int], Message]
    done: bool = False
    result: Message | None = None
    error: BaseException | None = None

    def outcome(self) -> Message | None:
        if isinstance(self.error, _Refused):
            return None
        if self.error is not None:
            if isinstance(self.error, sqlite3.OperationalError) and "full" in str(self.error):
                raise OutboxFull(f"outbox disk full: {self.error}") from self.error
            raise self.error
        return self.result


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK that also restores the in-memory counters."""

    def __init__(self, outbox: Outbox, durable: bool) -> None:
        self.outbox = outbox
        self.durable = durable

    def __enter__(self) -> None:
        self._saved = (self.outbox._count, self.outbox._bytes)
        if not self.durable:
            # a lost delete only means one resend, which the centre dedupes: skip the fsync
            self.outbox._db.execute("PRAGMA synchronous=NORMAL")
        self.outbox._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.outbox._db.execute("COMMIT")
            else:
                self.outbox._db.execute("ROLLBACK")
                self.outbox._count, self.outbox._bytes = self._saved
        finally:
            if not self.durable:
                self.outbox._db.execute(f"PRAGMA synchronous={self.outbox.synchronous}")
