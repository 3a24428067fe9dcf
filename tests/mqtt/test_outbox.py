"""The on-disk outbox: order, durability across reopen, and the full-outbox policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from mqtt.outbox import Message, Outbox, OutboxFull


def _msg(kind: str, seq: int, size: int = 10) -> Message:
    return Message(kind, f"t/{kind}", bytes(size), f"{kind}-{seq}")  # type: ignore[arg-type]


def _enqueue(outbox: Outbox, kind: str, size: int = 10) -> Message | None:
    return outbox.enqueue(kind, lambda seq: _msg(kind, seq, size))  # type: ignore[arg-type]


def test_rows_come_back_in_order_and_survive_reopen(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    outbox = Outbox(path)
    for kind in ("episode", "evidence", "health", "episode"):
        _enqueue(outbox, kind)
    assert [s.message.msg_id for s in outbox.pending()] == [
        "episode-1", "evidence-2", "health-3", "episode-4"
    ]  # fmt: skip
    outbox.close()
    again = Outbox(path)
    assert again.depth == 4 and again.size_bytes == sum(
        10 + len(f"t/{k}") for k in ("episode", "evidence", "health", "episode")
    )
    assert _enqueue(again, "episode").msg_id == "episode-5"  # seq never repeats
    assert again.produced("episode") == 3


def test_only_acknowledged_rows_leave(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite")
    for _ in range(5):
        _enqueue(outbox, "episode")
    rows = outbox.pending()
    assert outbox.acknowledge([rows[1].rowid, rows[3].rowid]) == 2
    assert [s.message.msg_id for s in outbox.pending()] == ["episode-1", "episode-3", "episode-5"]
    assert [s.message.msg_id for s in outbox.pending(after=rows[2].rowid)] == ["episode-5"]
    assert outbox.acknowledge([rows[1].rowid]) == 0  # a repeated PUBACK changes nothing
    outbox.bury(rows[0].rowid, "Not authorized")
    assert outbox.depth == 2
    assert outbox.dead_letters() == [("episode", "t/episode", "Not authorized")]


def test_full_outbox_drops_oldest_health_first(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_messages=4)
    _enqueue(outbox, "health")
    _enqueue(outbox, "episode")
    _enqueue(outbox, "health")
    _enqueue(outbox, "evidence")
    _enqueue(outbox, "episode")  # full: the oldest health goes
    assert [s.message.msg_id for s in outbox.pending()] == [
        "episode-2", "health-3", "evidence-4", "episode-5"
    ]  # fmt: skip
    assert outbox.dropped_health == 1
    _enqueue(outbox, "evidence")  # the last health goes
    assert all(s.message.kind != "health" for s in outbox.pending())
    # only episodes and evidence left: a new health is refused, anything else raises
    assert _enqueue(outbox, "health") is None
    assert outbox.dropped_health == 3
    with pytest.raises(OutboxFull, match="outbox full"):
        _enqueue(outbox, "episode")
    assert outbox.depth == 4
    seq_before = outbox.last_seq()
    with pytest.raises(OutboxFull):
        _enqueue(outbox, "evidence")
    assert outbox.last_seq() == seq_before  # a refused message leaves no trace


def test_byte_limit_counts_too(tmp_path: Path) -> None:
    outbox = Outbox(tmp_path / "o.sqlite", max_bytes=1000)
    _enqueue(outbox, "health", size=600)
    _enqueue(outbox, "evidence", size=300)  # fits beside it
    _enqueue(outbox, "evidence", size=300)  # the health goes
    assert [s.message.kind for s in outbox.pending()] == ["evidence", "evidence"]
    with pytest.raises(OutboxFull):
        _enqueue(outbox, "evidence", size=2000)  # could never fit


def test_restart_counter_persists(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    assert Outbox(path).count_restart() == 1
    assert Outbox(path).count_restart() == 2


def test_concurrent_producers_share_a_commit_and_each_returns_durable(tmp_path: Path) -> None:
    """Group commit (issue 15): what arrives while a commit is under way is stored in one
    transaction (one fsync), each caller returns once its own row is committed, and a
    refused message in the group takes back only its own row."""
    import threading

    path = tmp_path / "o.sqlite"
    outbox = Outbox(path, max_bytes=2000)
    commits: list[str] = []
    outbox._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    results: dict[int, Message | None | Exception] = {}

    def produce(n: int) -> None:
        size = 5000 if n == 3 else 10  # n == 3 does not fit: refused, the others stored
        try:
            results[n] = _enqueue(outbox, "episode", size)
        except OutboxFull as exc:
            results[n] = exc

    producers = [threading.Thread(target=produce, args=(n,)) for n in range(8)]
    with outbox._lock:  # the disk is busy: the first caller waits to commit, the rest queue
        for thread in producers:
            thread.start()
        pause = threading.Event()  # never set: a bounded wait between looks
        for _ in range(500):  # until seven callers wait behind the one committing
            with outbox._group:
                waiting = len(outbox._jobs)
            if waiting == 7:
                break
            pause.wait(0.01)
    assert waiting == 7  # the group existed: seven callers queued behind the first
    for thread in producers:
        thread.join(10)
    assert len(commits) == 2, commits  # the first caller's, then the other seven together
    assert isinstance(results.pop(3), OutboxFull)
    stored = sorted(int(m.msg_id.split("-")[1]) for m in results.values())  # type: ignore[union-attr]
    outbox.close()
    again = Outbox(path)  # on disk, in seq order, the refused one not among them
    assert [int(s.message.msg_id.split("-")[1]) for s in again.pending()] == stored
    assert again.produced("episode") == 7 and again.depth == 7


def test_bookkeeping_rides_in_the_next_commit_and_reads_never_wait(tmp_path: Path) -> None:
    """The dispatcher's deletes do not wait behind the cameras' fsync (issue 15): with
    `wait=False` they return at once and the committing caller writes them next; reads use
    their own connection, so they go on while a commit holds the writer."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    outbox = Outbox(tmp_path / "o.sqlite")
    _enqueue(outbox, "episode")
    first = outbox.pending()[0]
    commits: list[str] = []
    outbox._db.set_trace_callback(lambda sql: commits.append(sql) if sql == "COMMIT" else None)
    stored_per_commit: list[int] = []
    outbox.on_commit = stored_per_commit.append
    producer = threading.Thread(target=_enqueue, args=(outbox, "episode"))
    with outbox._lock, ThreadPoolExecutor(1) as elsewhere:  # the disk is busy
        producer.start()
        pause = threading.Event()  # never set: a bounded wait between looks
        for _ in range(500):  # until the producer leads a commit that waits for the disk
            with outbox._group:
                committing = outbox._leading and not outbox._jobs
            if committing:
                break
            pause.wait(0.01)
        assert committing
        assert elsewhere.submit(outbox.acknowledge, [first.rowid], wait=False).result(5) is None
        still = elsewhere.submit(outbox.pending).result(5)  # a read while the writer is busy
        assert [s.message.msg_id for s in still] == ["episode-1"]  # committed rows only
    producer.join(10)
    assert not producer.is_alive()
    # the producer's commit, then the delete that arrived meanwhile, by the same caller
    assert len(commits) == 2 and stored_per_commit == [1, 0]
    assert [s.message.msg_id for s in outbox.pending()] == ["episode-2"]
    assert outbox.depth == 1
    outbox.close()
    assert Outbox(tmp_path / "o.sqlite").depth == 1


def test_a_full_disk_is_reported_as_outbox_full(tmp_path: Path) -> None:
    """SQLite's "database or disk is full" reaches the caller as `OutboxFull`, and the rows
    already stored stay."""
    outbox = Outbox(tmp_path / "o.sqlite")
    _enqueue(outbox, "episode")
    pages = outbox._db.execute("PRAGMA page_count").fetchone()[0]
    outbox._db.execute(f"PRAGMA max_page_count = {pages}")  # the disk has no more room
    with pytest.raises(OutboxFull, match="disk full"):
        _enqueue(outbox, "episode", size=200_000)
    assert [s.message.msg_id for s in outbox.pending()] == ["episode-1"]
    assert outbox.depth == 1
