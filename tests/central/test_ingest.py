"""Ingest: idempotent on the message id, snapshots never move an episode backwards,
evidence content-addressed and checked, node birth/death, and migrations == models."""

from __future__ import annotations

import threading

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from central.episodes.ingest import IngestError, ingest_episode, ingest_evidence, ingest_status
from central.models import AuditEntry, Base, Episode, Evidence, IngestedMessage, Node
from central.testing.centres import DATABASES, open_centre
from central.testing.records import episode_payload, evidence_meta, ingest_violation, jpeg
from mqtt.payloads import Status


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path) as centre:
        yield centre


def _count(centre, model) -> int:
    with centre.db.session() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_the_same_message_twice_is_applied_once(centre):
    message = episode_payload("violation", "ep-1", warnings=2, at=centre.clock.now())
    first = ingest_episode(centre, message)
    again = ingest_episode(centre, message.to_json())  # as bytes off the wire
    assert (first.applied, first.state) == (True, "pending_review")
    assert (again.applied, again.detail) == (False, "duplicate")
    assert _count(centre, IngestedMessage) == 1
    assert _count(centre, AuditEntry) == 1


def test_a_late_older_snapshot_does_not_move_the_episode_back(centre):
    now = centre.clock.now()
    warned = episode_payload("warned", "ep-1", warnings=1, seq=10, at=now, plate=None)
    violation = episode_payload("violation", "ep-1", warnings=2, seq=11, at=now, plate="B 123")
    assert ingest_episode(centre, violation).state == "pending_review"
    late = ingest_episode(centre, warned)
    assert (late.applied, late.state, late.detail) == (True, "pending_review", "stale snapshot")
    with centre.db.session() as session:
        episode = session.get(Episode, "ep-1")
        assert (episode.last_event, episode.last_seq, episode.plate) == ("violation", 11, "B 123")
        assert len(episode.record["warnings"]) == 2


def test_invalid_payloads_are_refused(centre):
    with pytest.raises(IngestError):
        ingest_episode(centre, b'{"schema": "roadguard.episode/1", "seq": 1}')
    with pytest.raises(IngestError):
        ingest_episode(centre, {"schema": "roadguard.episode/9", "seq": 1})
    assert _count(centre, IngestedMessage) == 0


def test_evidence_is_stored_by_content_and_indexed_once(centre):
    data = jpeg("frame")
    meta = evidence_meta("ep-1", "warning1-frame.jpg", data)
    first = ingest_evidence(centre, data, meta)  # before its episode: accepted all the same
    again = ingest_evidence(centre, data, meta)
    same_bytes_other_name = ingest_evidence(
        centre, data, evidence_meta("ep-1", "warning1-crop.jpg", data)
    )
    assert (first.applied, again.applied, again.detail) == (True, False, "duplicate")
    assert same_bytes_other_name.applied
    with centre.db.session() as session:
        rows = session.scalars(select(Evidence).order_by(Evidence.name)).all()
    assert {r.sha256 for r in rows} == {meta.sha256}
    assert centre.evidence.get(meta.sha256) == data
    files = [p for p in (centre.settings.evidence.path).rglob("*") if p.is_file()]
    assert len(files) == 1  # one copy of the bytes


def test_evidence_whose_hash_does_not_match_is_refused(centre):
    data = jpeg("frame")
    meta = evidence_meta("ep-1", "warning1-frame.jpg", data)
    with pytest.raises(IngestError, match="sha256"):
        ingest_evidence(centre, data[:-10], meta)
    assert _count(centre, Evidence) == 0


def test_node_birth_and_death_and_a_stale_will(centre):
    def status(state: str, restarts: int) -> Status:
        return Status.build(
            seq=restarts,
            node_id="demo-node",
            state=state,
            software_version="0.1.0",
            cameras=["kerb-cam"],
            restarts=restarts,
        )

    ingest_status(centre, status("online", 3))
    ingest_status(centre, status("offline", 2))  # the will of the previous run, late
    with centre.db.session() as session:
        assert session.get(Node, "demo-node").online
    ingest_status(centre, status("offline", 3))
    with centre.db.session() as session:
        node = session.get(Node, "demo-node")
        assert (node.online, node.cameras, node.birth_seq) == (False, ["kerb-cam"], 3)


def test_two_workers_racing_on_one_message_apply_it_once(centre):
    ingest_violation(centre, "ep-0", with_evidence=False)  # warm up the pool
    message = episode_payload("violation", "ep-race", warnings=2, at=centre.clock.now())
    barrier = threading.Barrier(4)
    results = []

    def worker() -> None:
        barrier.wait()
        results.append(ingest_episode(centre, message).applied)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [False, False, False, True]
    with centre.db.session() as session:
        audit = session.scalars(select(AuditEntry).where(AuditEntry.episode_id == "ep-race"))
        assert len(audit.all()) == 1


def test_the_migrations_build_exactly_the_models(centre):
    with centre.db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_a_value_too_long_for_postgresql_is_refused_not_cut_short(tmp_path):
    """The batch insert must not truncate what the column cannot hold (a cast to
    varchar(n) would): the database refuses it, and the consumer dead-letters it."""
    from sqlalchemy.exc import DataError

    from central.episodes.ingest import EvidenceItem, ingest_batch

    with open_centre("postgresql", tmp_path) as centre:
        long_name = "x" * 300  # the column holds 256
        item = EvidenceItem("demo-node", "ep-1", long_name, "0" * 64, 10, "image/jpeg")
        with pytest.raises(DataError):
            ingest_batch(centre, [item])
        assert _count(centre, Evidence) == 0


def test_a_batch_does_not_wait_holding_its_locks_for_an_episode_another_worker_holds(tmp_path):
    """Two workers share the subscription, so their batches touch the same episodes (issue
    15). A batch commits what it can without waiting for an episode another worker holds,
    and applies that episode's messages once the holder has committed."""
    from concurrent.futures import ThreadPoolExecutor

    from central.episodes.ingest import ingest_batch

    with open_centre("postgresql", tmp_path) as centre:
        now = centre.clock.now()
        for episode in ("ep-held", "ep-free"):
            ingest_episode(centre, episode_payload("stopped", episode, at=now, seq=1))
        held = episode_payload("warned", "ep-held", at=now, warnings=1, seq=2)
        free = episode_payload("warned", "ep-free", at=now, warnings=1, seq=2)
        applied = select(func.count()).select_from(IngestedMessage)
        applied_free = applied.where(IngestedMessage.id == str(free.id))
        with ThreadPoolExecutor(1) as worker, centre.db.session() as other_worker:
            other_worker.scalars(
                select(Episode).where(Episode.id == "ep-held").with_for_update()
            ).all()  # the other worker's batch holds this episode, uncommitted
            batch = worker.submit(ingest_batch, centre, [held, free])
            pause = threading.Event()  # never set: a bounded wait between looks
            for _ in range(500):
                with centre.db.session() as session:
                    free_done = session.scalar(applied_free) == 1
                if free_done or batch.done():
                    break
                pause.wait(0.01)
            assert free_done  # committed while the other worker still held ep-held
            assert not batch.done()  # and ep-held's message waits for it
            other_worker.commit()
            outcomes = batch.result(10)
        assert [(o.applied, o.episode_id) for o in outcomes] == [
            (True, "ep-held"), (True, "ep-free")
        ]  # fmt: skip
        with centre.db.session() as session:
            assert session.get(Episode, "ep-held").last_seq == 2
            assert session.get(Episode, "ep-free").last_seq == 2
            assert session.scalar(applied) == 4
