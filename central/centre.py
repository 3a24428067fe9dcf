"""The centre's running parts in one value: settings, clock, database, evidence store,
report categories, the sites on the map and the alert sink.

Passed to ingest, the scheduler, the consumer and the web app, so a test builds one with a
fake clock and a temp folder and every part sees the same time and the same data.
"""

from __future__ import annotations

import threading
from datetime import datetime

from central.clock import Clock, SystemClock
from central.config import CentralSettings
from central.db import Database
from central.evidence import EvidenceStore, open_evidence_store
from central.places import SitePlace
from central.reports.alerts import AlertSink, NoAlerts
from central.reports.categories import ReportCategories


class Centre:
    def __init__(
        self,
        settings: CentralSettings,
        *,
        clock: Clock | None = None,
        database: Database | None = None,
        evidence: EvidenceStore | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.db = database or Database(settings.resolved_database_url())
        self.evidence = evidence or open_evidence_store(
            settings.evidence, settings.evidence_root(), self.db
        )
        self.categories: ReportCategories = settings.reports.load_categories()
        self.sites: list[SitePlace] = settings.map.load_sites()
        # Urgent-report alerts for other systems; the web app swaps in MQTT when configured.
        self.alerts: AlertSink = NoAlerts()
        # Set when ingest creates a review deadline, so the scheduler re-plans its wait.
        self.deadlines_changed = threading.Event()
        # When the scheduler will look next: a new deadline later than that needs no wake-up.
        self.next_deadline_check: datetime | None = None

    def deadline_added(self, deadline: datetime | None) -> None:
        """Wake the scheduler only for a deadline earlier than its next planned check (a
        fresh review deadline, `now + review window`, almost never is)."""
        planned = self.next_deadline_check
        if deadline is None or planned is None or deadline < planned:
            self.deadlines_changed.set()

    @classmethod
    def open(cls, settings: CentralSettings, *, clock: Clock | None = None) -> Centre:
        """Build and migrate: the schema is at head before anything reads it."""
        centre = cls(settings, clock=clock)
        centre.db.migrate()
        return centre

    def close(self) -> None:
        self.db.dispose()
