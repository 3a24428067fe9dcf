"""The deadline scheduler inside the service: escalates reviews nobody decided in time, and
urgent warden reports nobody acknowledged in time (one step up the chain per deadline).

Restart-safe by construction: it keeps no state of its own. Every tick asks the database
which deadlines have passed, so a deadline that passed while the service was down escalates
on the first tick at start. Between ticks it waits on the centre's clock until the next
deadline (or `scheduler_poll_s`, for deadlines other workers created), and ingest wakes it
when a new deadline appears.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from central.centre import Centre
from central.episodes.workflow import escalate_overdue, next_deadline
from central.reports.workflow import escalate_overdue_reports, next_report_deadline

log = logging.getLogger(__name__)


class DeadlineScheduler:
    def __init__(self, centre: Centre) -> None:
        self.centre = centre
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.ticks = 0
        self.ticked = threading.Condition()

    def tick(self) -> list[str]:
        """Escalate what is overdue now; returns the escalated episode ids."""
        now = self.centre.clock.now()
        with self.centre.db.session() as session:
            escalated = escalate_overdue(session, now)
        if escalated:
            log.info("escalated %d overdue review(s): %s", len(escalated), escalated)
        with self.centre.db.session() as session:
            reports = escalate_overdue_reports(session, now, self.centre.categories)
        for document in reports:  # after the commit: no alert for a rolled-back escalation
            log.info(
                "escalated report %s to %s",
                document["service_request_id"],
                document["extended_attributes"]["escalated_to"],
            )
            squad = document["extended_attributes"]["squad"]
            self.centre.alerts.publish("escalated", squad, document, now)
        with self.ticked:
            self.ticks += 1
            self.ticked.notify_all()
        return escalated

    def _seconds_to_next(self) -> float:
        poll = self.centre.settings.scheduler_poll_s
        with self.centre.db.session() as session:
            deadlines = [d for d in (next_deadline(session), next_report_deadline(session)) if d]
        deadline = min(deadlines) if deadlines else None
        if deadline is None:
            return poll
        return max(0.0, min(poll, (deadline - self.centre.clock.now()).total_seconds()))

    def _run(self) -> None:
        wake = self.centre.deadlines_changed  # set by ingest on a new deadline, and by stop()
        while not self._stop.is_set():
            wake.clear()  # before the tick: a deadline added during it re-runs the loop
            try:
                self.tick()
                wait_s = self._seconds_to_next()
            except Exception:  # a database blip must not end escalation for good
                log.exception("deadline check failed; retrying")
                wait_s = self.centre.settings.scheduler_poll_s
            if not self._stop.is_set():
                self.centre.next_deadline_check = self.centre.clock.now() + timedelta(
                    seconds=wait_s
                )
                self.centre.clock.wait(wake, wait_s)
                self.centre.next_deadline_check = None

    def start(self) -> None:
        """Escalate what passed while down (synchronously, before serving), then run."""
        self.tick()
        self._thread = threading.Thread(target=self._run, name="deadline-scheduler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.centre.deadlines_changed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
