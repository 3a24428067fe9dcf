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
server, and an episode is worth an fsync. The fsync is shared (group commit): every write
that arrives while a commit is under way (cameras and evidence uploads publishing at once,
the dispatcher marking rows sent or deleting them) is applied in the next transaction, and
each caller still returns only once its own change is on disk. Bookkeeping alone (no new
row) commits without an fsync: a lost delete only means one resend, which the centre
dedupes. The dispatcher reads on a connection of its own: in WAL mode a reader sees every
committed row and never waits for a writer's fsync. Rows are sent in `rowid` order, which is
the order they were written; `seq` is allocated in the same transaction as the row, so it
survives restarts and never repeats.

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
from typing import Literal, TypeVar, cast

log = logging.getLogger(__name__)

Kind = Literal["episode", "evidence", "health", "ack", "status"]
DROPPABLE: frozenset[str] = frozenset({"health"})
# Kinds the centre ingests through its shared subscription and answers with a receipt.
RECEIPTED: frozenset[str] = frozenset({"episode", "evidence"})
T = TypeVar("T")

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


_KEYS_PER_STATEMENT = 500  # `IN (...)` lists, well under SQLite's 32,766 parameters


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
    deletes from its own. Every write goes through one group commit (`_in_group`); reads
    use their own connection."""

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
        self._lock = threading.RLock()  # the writing connection
        self._group = threading.Lock()  # guards `_jobs` and `_leading`
        self._jobs: list[_Job] = []  # writes waiting for the next group commit
        self._leading = False  # one caller commits the waiting jobs at a time
        # Called after each group commit with the number of rows it stored, outside every
        # lock: the link wakes its dispatcher once per commit rather than once per row.
        self.on_commit: Callable[[int], None] | None = None
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(f"PRAGMA synchronous={synchronous}")
        self._db.executescript(_SCHEMA)
        self._add_missing_columns()
        self._db.executescript(_INDEXES)
        self._count, self._bytes = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(size), 0) FROM messages"
        ).fetchone()
        # The `meta` counters, kept here and written once per transaction (`_Transaction`):
        # two statements fewer per row, and every statement hands the interpreter lock over.
        self._counters: dict[str, int] = dict(self._db.execute("SELECT key, value FROM meta"))
        self._changed_counters: set[str] = set()
        self._read_lock = threading.Lock()
        self._reader = sqlite3.connect(path, check_same_thread=False, isolation_level=None)

    def _add_missing_columns(self) -> None:
        """An outbox written by an older node keeps its rows: they count as never sent."""
        for table, columns in _ADDED_COLUMNS.items():
            have = {row[1] for row in self._db.execute(f"PRAGMA table_info({table})")}
            for name, declaration in columns.items():
                if name not in have:
                    self._db.execute(f"ALTER TABLE {table} ADD COLUMN {name} {declaration}")

    # -- counters kept across restarts ------------------------------------------------------
    def _meta(self, key: str) -> int:
        return self._counters.get(key, 0)

    def _bump(self, key: str) -> int:
        """Count one more; only inside a transaction, which writes it with its commit."""
        value = self._counters[key] = self._meta(key) + 1
        self._changed_counters.add(key)
        return value

    def _write_counters(self) -> None:
        if self._changed_counters:
            self._db.executemany(
                "INSERT INTO meta(key, value) VALUES(?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                [(key, self._counters[key]) for key in sorted(self._changed_counters)],
            )
            self._changed_counters.clear()

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
        not fit."""
        try:
            return self._in_group(lambda: self._store_one(kind, build), stores=True)
        except _Refused:
            return None

    def _in_group(
        self,
        work: Callable[[], T],
        *,
        durable: bool = True,
        wait: bool = True,
        stores: bool = False,
    ) -> T:
        """Run `work` inside the next group commit and return its result once committed.

        Callers that arrive while a commit is under way are applied together in the next
        transaction, by whichever of them gets there first, with one commit (one fsync if
        any of them is `durable`) for all of them; each returns only once its own change is
        on disk. Every caller is woken once, when its job is done or when it is to lead.

        With `wait=False` (the dispatcher's bookkeeping) the caller does not wait for a
        commit already under way: its job rides in the next one and the result is None.
        A caller that finds nobody committing commits itself, and a leader commits again
        while jobs nobody waits for are queued, so a queued job always has a committer.

        A job refuses (raises anything but an SQLite error) before it writes, so a refusal
        takes nothing back from the others and needs no savepoint: a savepoint is two more
        statements per job. An SQLite error fails the whole group, which is rolled back."""
        job = _Job(work, durable, waits=wait, stores=stores)
        with self._group:
            self._jobs.append(job)
            leading, self._leading = self._leading, True
        if leading:  # another caller is committing: wait to be done, or to lead the next
            if not wait:
                return cast(T, None)
            job.wake.wait()
            if job.done:
                return cast(T, job.outcome())
        self._lead()
        return cast(T, job.outcome())

    def _lead(self) -> None:
        """Commit what is queued, then hand the lead to the first queued caller that waits,
        or commit again if only jobs nobody waits for arrived meanwhile."""
        while True:
            with self._group:
                jobs, self._jobs = self._jobs, []
            successor: _Job | None = None
            again = False
            try:
                self._commit_jobs(jobs)
            finally:
                for done in jobs:
                    done.done = True
                    done.wake.set()
                    if not done.waits and done.error is not None:
                        log.error("outbox bookkeeping not written: %s", done.error)
                with self._group:
                    successor = next((j for j in self._jobs if j.waits), None)
                    again = successor is None and bool(self._jobs)
                    if successor is None and not again:
                        self._leading = False
                if successor is not None:
                    successor.wake.set()
                if self.on_commit is not None:
                    self.on_commit(sum(1 for j in jobs if j.stores and j.error is None))
            if not again:
                return

    def _commit_jobs(self, jobs: list[_Job]) -> None:
        """One transaction, one commit."""
        with self._lock:
            try:
                with self._transaction(durable=any(job.durable for job in jobs)):
                    for job in jobs:
                        try:
                            job.result = job.work()
                        except sqlite3.Error:
                            raise
                        except BaseException as exc:  # noqa: BLE001 - handed to its caller
                            job.result, job.error = None, exc
            except sqlite3.Error as exc:
                full = "full" in str(exc).lower()
                error = OutboxFull(f"outbox disk full: {exc}") if full else exc
                for job in jobs:
                    if job.error is None:
                        job.result, job.error = None, error

    def _store_one(self, kind: Kind, build: Callable[[int], Message]) -> Message | None:
        """Everything that may refuse comes before the first write (see `_in_group`)."""
        message = build(self._meta("seq") + 1)
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
        self._bump("seq")
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
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT rowid, kind, topic, payload, properties, qos, retain, msg_id, created_at, "
                f"payload_file FROM messages {where}",
                params,
            ).fetchall()
        return [_stored(row) for row in rows]

    def awaiting(self) -> int:
        """Messages sent and not yet confirmed by the centre."""
        with self._read_lock:
            return self._reader.execute(
                "SELECT COUNT(*) FROM messages WHERE due_at > 0"
            ).fetchone()[0]

    def mark_sent(
        self,
        rowids: Iterable[int],
        now: float,
        timeout: float,
        longest: float,
        *,
        wait: bool = True,
    ) -> int | None:
        """The broker has them (PUBACK): wait for the centre's receipt until `now` plus a
        timeout that doubles with each attempt up to `longest`. Returns rows still present
        (a receipt may have settled one already); None with `wait=False` (see `_in_group`:
        the change rides in the next commit; lost in a crash, it means one resend)."""
        ids = list(rowids)
        if not ids:
            return 0

        def mark() -> int:
            marked = 0
            for start in range(0, len(ids), _KEYS_PER_STATEMENT):
                chunk = ids[start : start + _KEYS_PER_STATEMENT]
                marked += self._db.execute(
                    "UPDATE messages SET attempts = attempts + 1, "
                    "due_at = ? + MIN(? * (1 << MIN(attempts, 20)), ?) "
                    f"WHERE rowid IN ({', '.join('?' * len(chunk))})",
                    [now, timeout, longest, *chunk],
                ).rowcount
            return marked

        return self._in_group(mark, durable=False, wait=wait)

    def postpone(self, rowids: Iterable[int], until: float) -> None:
        """Handed to the broker again: not due again before `until` (its PUBACK re-marks it)."""
        ids = [(until, r) for r in rowids]
        if ids:
            self._in_group(
                lambda: self._db.executemany("UPDATE messages SET due_at = ? WHERE rowid = ?", ids),
                durable=False,
            )

    def retry_now(self, now: float) -> int:
        """Make every message waiting for a receipt due at once (after a reconnect: the broker
        we talk to now may not hold what the previous connection handed over)."""
        return self._in_group(
            lambda: (
                self._db.execute(
                    "UPDATE messages SET due_at = ? WHERE due_at > ?", (now, now)
                ).rowcount
            ),
            durable=False,
        )

    def settle(self, msg_ids: Iterable[str], *, wait: bool = True) -> int | None:
        """The centre committed them: delete, in one transaction. Returns how many went
        (None with `wait=False`, as for `mark_sent`)."""
        ids = [str(m) for m in msg_ids]
        if not ids:
            return 0
        return self._in_group(lambda: self._delete("msg_id", ids), durable=False, wait=wait)

    def refused_by_centre(self, msg_id: str, reason: str) -> None:
        """The centre keeps it in its dead letters: keep a copy aside here too, stop sending."""
        with self._read_lock:
            rows = self._reader.execute(
                "SELECT rowid FROM messages WHERE msg_id = ?", (msg_id,)
            ).fetchall()
        for (rowid,) in rows:
            self.bury(rowid, f"refused by the centre: {reason}")

    def acknowledge(self, rowids: Iterable[int], *, wait: bool = True) -> int | None:
        """The broker has them and nothing more is awaited (health, command acks): delete, in
        one transaction. Returns how many went (None with `wait=False`, as for `mark_sent`)."""
        ids = list(rowids)
        if not ids:
            return 0
        return self._in_group(lambda: self._delete("rowid", ids), durable=False, wait=wait)

    def _delete(self, column: Literal["rowid", "msg_id"], keys: list) -> int:
        """Delete the rows whose `column` is one of `keys`; keeps the counters true."""
        gone = 0
        for start in range(0, len(keys), _KEYS_PER_STATEMENT):
            chunk = keys[start : start + _KEYS_PER_STATEMENT]
            marks = ", ".join("?" * len(chunk))
            for (size,) in self._db.execute(
                f"DELETE FROM messages WHERE {column} IN ({marks}) RETURNING size", chunk
            ).fetchall():
                gone += 1
                self._count -= 1
                self._bytes -= size
        return gone

    def bury(self, rowid: int, reason: str) -> None:
        """The broker refused it for good (e.g. not authorised): keep it aside, stop resending."""

        def move() -> tuple | None:
            row = self._db.execute(
                "DELETE FROM messages WHERE rowid = ? "
                "RETURNING kind, topic, payload, properties, msg_id, size, payload_file",
                (rowid,),
            ).fetchone()
            if row is None:
                return None
            kind, topic, payload, props, msg_id, size, payload_file = row
            self._count -= 1
            self._bytes -= size
            self._db.execute(
                "INSERT OR REPLACE INTO dead(rowid, kind, topic, payload, properties, msg_id, "
                "reason, failed_at, payload_file) VALUES(?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (rowid, kind, topic, payload, props, msg_id, reason, time.time(), payload_file),
            )
            return kind, topic, msg_id

        moved = self._in_group(move)
        if moved is None:
            return
        kind, topic, msg_id = moved
        log.error("outbox: %s %s on %s not delivered: %s", kind, msg_id, topic, reason)

    def dead_letters(self) -> list[tuple[str, str, str]]:
        with self._read_lock:
            return self._reader.execute(
                "SELECT kind, topic, reason FROM dead ORDER BY rowid"
            ).fetchall()

    def holds_episode(self, episode_id: str) -> bool:
        """Whether anything of this episode (a transition or a picture) still waits for the
        centre's receipt: its evidence must not be deleted yet."""
        with self._read_lock:
            row = self._reader.execute(
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
        with self._lock, self._read_lock:
            self._reader.close()
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
    """One write waiting for a group commit; `durable` writes need the commit's fsync."""

    work: Callable[[], object]
    durable: bool
    waits: bool = True  # a caller waits for it (False: the dispatcher's bookkeeping)
    stores: bool = False  # it adds a row to send
    # set once: when the job is done, or when its caller is to lead the next commit
    wake: threading.Event = field(default_factory=threading.Event)
    done: bool = False
    result: object = None
    error: BaseException | None = None

    def outcome(self) -> object:
        """The job's result, or its error raised (a full disk is already `OutboxFull`:
        `_commit_jobs` turned it into one for the whole group)."""
        if self.error is not None:
            raise self.error
        return self.result


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT/ROLLBACK that also restores the in-memory counters."""

    def __init__(self, outbox: Outbox, durable: bool) -> None:
        self.outbox = outbox
        self.durable = durable

    def __enter__(self) -> None:
        self._saved = (self.outbox._count, self.outbox._bytes, dict(self.outbox._counters))
        if not self.durable:
            # a lost delete only means one resend, which the centre dedupes: skip the fsync
            self.outbox._db.execute("PRAGMA synchronous=NORMAL")
        self.outbox._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                try:
                    self.outbox._write_counters()
                    self.outbox._db.execute("COMMIT")
                except BaseException:
                    self._roll_back()
                    raise
            else:
                self._roll_back()
        finally:
            if not self.durable:
                self.outbox._db.execute(f"PRAGMA synchronous={self.outbox.synchronous}")

    def _roll_back(self) -> None:
        outbox = self.outbox
        if outbox._db.in_transaction:
            outbox._db.execute("ROLLBACK")
        outbox._count, outbox._bytes, outbox._counters = self._saved
        outbox._changed_counters.clear()
