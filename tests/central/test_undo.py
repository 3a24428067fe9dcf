"""A ticket is not one irreversible keystroke: the officer who decided may take it back
within the undo window, and the audit keeps the decision and its undoing."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from central.episodes.workflow import (
    NotAllowed,
    UndoTooLate,
    dismiss,
    escalate_overdue,
    issue_ticket,
    undo_decision,
)
from central.models import Episode, ReviewState
from central.roles import Actor
from central.testing.centres import DATABASES, add_users, open_centre
from central.testing.clients import login
from central.testing.records import ingest_violation
from central.web import create_app

OLGA = Actor("olga", "officer")
OSCAR = Actor("oscar", "officer")
SAM = Actor("sam", "supervisor")
WINDOW = 10.0


@pytest.fixture(params=DATABASES)
def centre(request, tmp_path):
    with open_centre(request.param, tmp_path, review_window_s=600, undo_window_s=WINDOW) as c:
        ingest_violation(c, "ep-1")
        yield c


def _audit(centre, episode_id: str) -> list[tuple[str | None, str, str, str, str | None]]:
    with centre.db.session() as session:
        episode = session.get(Episode, episode_id)
        return [(a.from_state, a.to_state, a.actor, a.reason, a.note) for a in episode.audit]


def _decide(centre, decision, *args) -> None:
    with centre.db.session() as session:
        decision(session, "ep-1", *args)


def test_a_ticket_taken_back_within_the_window_is_audited_both_ways(centre) -> None:
    _decide(centre, issue_ticket, OLGA, centre.clock.now())
    with centre.db.session() as session:
        number = session.get(Episode, "ep-1").ticket_number
    assert number
    centre.clock.advance(seconds=WINDOW - 1)
    _decide(centre, undo_decision, OLGA, centre.clock.now(), WINDOW)
    with centre.db.session() as session:
        episode = session.get(Episode, "ep-1")
        assert episode.state == ReviewState.pending_review
        assert episode.ticket_number is None and episode.decided_by is None
    assert _audit(centre, "ep-1")[-2:] == [
        ("pending_review", "ticketed", "olga", "ticket", ""),
        ("ticketed", "pending_review", "olga", "undo", number),
    ]
    _decide(centre, dismiss, OLGA, centre.clock.now(), "wrong_vehicle")  # decided again
    assert _audit(centre, "ep-1")[-1][:4] == (
        "pending_review",
        "dismissed",
        "olga",
        "wrong_vehicle",
    )


def test_after_the_window_the_ticket_is_final(centre) -> None:
    _decide(centre, issue_ticket, OLGA, centre.clock.now())
    rows = _audit(centre, "ep-1")
    centre.clock.advance(seconds=WINDOW + 1)
    with pytest.raises(UndoTooLate, match="final"):
        _decide(centre, undo_decision, OLGA, centre.clock.now(), WINDOW)
    with centre.db.session() as session:
        assert session.get(Episode, "ep-1").state == ReviewState.ticketed
    assert _audit(centre, "ep-1") == rows  # a refused undo writes nothing


def test_only_the_officer_who_decided_may_undo(centre) -> None:
    _decide(centre, issue_ticket, OLGA, centre.clock.now())
    with pytest.raises(NotAllowed, match="only olga"):
        _decide(centre, undo_decision, OSCAR, centre.clock.now(), WINDOW)


def test_an_undone_escalated_decision_goes_back_to_the_supervisor(centre) -> None:
    centre.clock.advance(seconds=601)
    with centre.db.session() as session:
        assert escalate_overdue(session, centre.clock.now()) == ["ep-1"]
    _decide(centre, dismiss, SAM, centre.clock.now(), "detector_error")
    _decide(centre, undo_decision, SAM, centre.clock.now(), WINDOW)
    with centre.db.session() as session:
        episode = session.get(Episode, "ep-1")
        assert episode.state == ReviewState.escalated and episode.dismiss_reason is None
    assert _audit(centre, "ep-1")[-1] == (
        "dismissed",
        "escalated",
        "sam",
        "undo",
        "detector_error",
    )


def test_the_page_offers_undo_once_with_the_ticket_number(tmp_path) -> None:
    with open_centre("sqlite", tmp_path, undo_window_s=WINDOW) as centre:
        add_users(centre)
        ingest_violation(centre, "ep-1")
        ingest_violation(centre, "ep-2")
        client, token = login(create_app(centre, run_scheduler=False), "olga")
        decided = client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
        assert decided.status_code == 303 and decided.headers["location"] == "/episodes/ep-2"
        following = client.get("/episodes/ep-2").text
        toast = re.search(r'id="undo-toast" data-seconds="([\d.]+)".*?</div>', following, re.S)
        assert toast and float(toast.group(1)) == WINDOW
        assert re.search(r"Ticket RG-\d{8}-[0-9A-F]{8} issued", toast.group(0))
        assert 'action="/episodes/ep-1/undo"' in toast.group(0)
        assert "undo-toast" not in client.get("/episodes/ep-2").text  # once

        undone = client.post("/episodes/ep-1/undo", data={"csrf_token": token})
        assert undone.headers["location"] == "/episodes/ep-1"
        assert 'id="state">pending review<' in client.get("/episodes/ep-1").text

        client.post("/episodes/ep-1/ticket", data={"csrf_token": token})
        centre.clock.advance(seconds=WINDOW + 1)
        assert "undo-toast" not in client.get("/episodes/ep-2").text  # the window has closed
        late = client.post("/episodes/ep-1/undo", data={"csrf_token": token})
        assert late.status_code == 409 and "final" in late.text
        api = TestClient(client.app)
        assert api.post("/api/v1/episodes/ep-1/undo").status_code in (401, 403)
