"""The review workflow with a fake clock: ticket, dismiss (reason required), escalation on
the deadline by the scheduler, and escalation at start for a deadline passed while down."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from central.clock import FakeClock
from central.episodes.ingest import ingest_episode
from central.episodes.workflow import (
    InvalidDecision,
    NotAllowed,
    WorkflowError,
    dismiss,
    escalate_overdue,
    issue_ticket,
)
from central.models import AuditEntry, Episode, ReviewState
from central.roles import Actor
from central.scheduler import DeadlineScheduler
from central.testing.centres import DATABASES, open_centre
from central.testing.records import episode_payload, ingest_violation

OFFICER = Actor("olga", "officer")
SUPERVISOR = Actor("sam", "supervisor")
WARDEN = Actor("walt", "warden")


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path, review_window_s=600) as centre:
        yield centre


def _episode(centre, episode_id):
    with centre.db.session() as session:
        episode = session.get(Episode, episode_id)
        return episode, [
            (a.from_state, a.to_state, a.actor, a.reason, a.note, a.at) for a in episode.audit
        ]


def test_violation_waits_for_review_with_a_deadline(centre):
    start = centre.clock.now()
    ingest_violation(centre, "ep-1")
    episode, audit = _episode(centre, "ep-1")
    assert episode.state == ReviewState.pending_review
    assert episode.review_deadline == start + timedelta(seconds=600)
    assert episode.plate == "沪A·12345"
    assert [(a[0], a[1], a[2]) for a in audit] == [("active", "pending_review", "node:demo-node")]


def test_officer_tickets_and_the_audit_says_who_when_why(centre):
    ingest_violation(centre, "ep-1")
    centre.clock.advance(minutes=3)
    with centre.db.session() as session:
        issue_ticket(session, "ep-1", OFFICER, centre.clock.now(), "plate clear")
    episode, audit = _episode(centre, "ep-1")
    assert episode.state == ReviewState.ticketed
    assert episode.ticket_number.startswith("RG-20260302-")
    assert episode.decided_by == "olga"
    assert audit[-1] == (
        "pending_review",
        "ticketed",
        "olga",
        "ticket",
        "plate clear",
        centre.clock.now(),
    )
    with pytest.raises(WorkflowError), centre.db.session() as session:
        issue_ticket(session, "ep-1", OFFICER, centre.clock.now())  # decided already


def test_dismissal_needs_a_reason_from_the_list(centre):
    ingest_violation(centre, "ep-1")
    for reason, note in [(None, ""), ("", ""), ("looked fine", ""), ("other", "  ")]:
        with pytest.raises(InvalidDecision), centre.db.session() as session:
            dismiss(session, "ep-1", OFFICER, centre.clock.now(), reason, note)
    assert _episode(centre, "ep-1")[0].state == ReviewState.pending_review
    with centre.db.session() as session:
        dismiss(session, "ep-1", OFFICER, centre.clock.now(), "exempt_vehicle", "ambulance")
    episode, audit = _episode(centre, "ep-1")
    assert (episode.state, episode.dismiss_reason, episode.dismiss_note) == (
        "dismissed",
        "exempt_vehicle",
        "ambulance",
    )
    assert audit[-1][:5] == ("pending_review", "dismissed", "olga", "exempt_vehicle", "ambulance")


def test_other_reason_with_a_note_is_accepted(centre):
    ingest_violation(centre, "ep-1")
    with centre.db.session() as session:
        dismiss(session, "ep-1", OFFICER, centre.clock.now(), "other", "funeral procession")
    assert _episode(centre, "ep-1")[0].dismiss_note == "funeral procession"


def test_a_warden_cannot_ticket(centre):
    ingest_violation(centre, "ep-1")
    with pytest.raises(NotAllowed), centre.db.session() as session:
        issue_ticket(session, "ep-1", WARDEN, centre.clock.now())


def test_deadline_passing_escalates_to_the_supervisor_only(centre):
    ingest_violation(centre, "ep-1")
    ingest_violation(centre, "ep-2")
    scheduler = DeadlineScheduler(centre)
    centre.clock.advance(seconds=599)
    assert scheduler.tick() == []
    centre.clock.advance(seconds=1)
    assert sorted(scheduler.tick()) == ["ep-1", "ep-2"]
    episode, audit = _episode(centre, "ep-1")
    assert episode.state == ReviewState.escalated
    assert audit[-1][:4] == ("pending_review", "escalated", "scheduler", "deadline_passed")
    with pytest.raises(NotAllowed), centre.db.session() as session:
        issue_ticket(session, "ep-1", OFFICER, centre.clock.now())
    with centre.db.session() as session:
        issue_ticket(session, "ep-1", SUPERVISOR, centre.clock.now())
        dismiss(session, "ep-2", SUPERVISOR, centre.clock.now(), "detector_error")
    assert _episode(centre, "ep-1")[0].state == ReviewState.ticketed
    assert _episode(centre, "ep-2")[0].state == ReviewState.dismissed


def test_a_decided_review_never_escalates(centre):
    ingest_violation(centre, "ep-1")
    with centre.db.session() as session:
        issue_ticket(session, "ep-1", OFFICER, centre.clock.now())
    centre.clock.advance(hours=5)
    with centre.db.session() as session:
        assert escalate_overdue(session, centre.clock.now()) == []


def test_scheduler_thread_follows_the_fake_clock(centre):
    scheduler = DeadlineScheduler(centre)
    scheduler.start()
    try:
        ingest_violation(centre, "ep-1")
        escalated = threading.Event()

        def check() -> bool:
            with centre.db.session() as session:
                state = session.get(Episode, "ep-1").state
            if state == ReviewState.escalated:
                escalated.set()
            return escalated.is_set()

        centre.clock.advance(seconds=601)
        with scheduler.ticked:
            assert scheduler.ticked.wait_for(check, timeout=10)
    finally:
        scheduler.stop()


def test_a_deadline_passed_while_down_escalates_at_start(tmp_path):
    clock = FakeClock()
    url = f"sqlite:///{tmp_path / 'central.db'}"
    with open_centre("sqlite", tmp_path, clock, review_window_s=600) as centre:
        ingest_violation(centre, "ep-1", with_evidence=False)
    clock.advance(hours=2)  # the service is down meanwhile
    with open_centre("sqlite", tmp_path, clock, review_window_s=600) as centre:
        assert centre.db.engine.url.render_as_string() == url
        scheduler = DeadlineScheduler(centre)
        scheduler.start()  # its first tick runs before start() returns
        scheduler.stop()
        episode, audit = _episode(centre, "ep-1")
    assert episode.state == ReviewState.escalated
    assert audit[-1][5] == clock.now()


def test_dissuaded_and_cleared_are_recorded_as_endings(centre):
    now = centre.clock.now()
    ingest_episode(centre, episode_payload("warned", "ep-d", warnings=1, at=now))
    ingest_episode(centre, episode_payload("dissuaded", "ep-d", warnings=1, at=now))
    ingest_episode(centre, episode_payload("stopped", "ep-c", at=now))
    ingest_episode(centre, episode_payload("cleared", "ep-c", at=now))
    with centre.db.session() as session:
        states = dict(session.execute(select(Episode.id, Episode.state)).all())
        endings = session.scalars(select(AuditEntry.to_state).order_by(AuditEntry.id)).all()
    assert states == {"ep-d": "dissuaded", "ep-c": "cleared"}
    assert endings == ["dissuaded", "cleared"]


def test_a_vehicle_still_there_when_the_schedule_ends_is_expired_not_dissuaded(centre):
    now = centre.clock.now()
    ingest_episode(centre, episode_payload("warned", "ep-x", warnings=1, at=now))
    ingest_episode(centre, episode_payload("expired", "ep-x", warnings=1, at=now))
    episode, audit = _episode(centre, "ep-x")
    assert episode.state == ReviewState.expired
    assert episode.ended_at is not None
    assert [(a[0], a[1]) for a in audit] == [("active", "expired")]
