"""Alerts about urgent warden reports for other systems (a control-room screen, a pager
bridge): one MQTT message per change on `roadguard/v1/central/alerts/<squad>`.

Each message is self-contained (the report's full current state, not a diff) and carries a
per-publisher sequence number so a receiver can notice a gap (style.md, "Messages with a
lifecycle"), and `text`: one line a screen or a pager shows as it is, in every language the
centre speaks (`{"zh_CN": "紧急巡查上报 12：疑似酒驾，……", "en": "..."}`). Alerts are sent
after the change is committed: a rolled-back report never alerts anyone. The officers' own
pages do not depend on this; they read the database.
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import socket
import threading
import uuid
from datetime import datetime
from typing import Any, Protocol

from central.i18n import LANGUAGES, translations
from central.labels import ROLES
from central.reports.categories import ReportCategories
from central.text import N_
from mqtt.payloads import SEGMENT_PATTERN
from mqtt.topics import ROOT

log = logging.getLogger(__name__)

ALERT_SCHEMA = "roadguard.central.report-alert/1"
NO_SQUAD = "unassigned"


def alert_topic(squad: str | None) -> str:
    """The squad's alert topic; a report from a warden without a squad goes to `unassigned`.
    Squad names are checked as topic levels when users are added, so no `+`/`#` gets in."""
    return f"{ROOT}/central/alerts/{squad or NO_SQUAD}"


ALERT_TEXTS = {
    "new": N_("Urgent field report %(id)s: %(category)s%(place)s. Acknowledge it now."),
    "escalated": N_(
        "Urgent field report %(id)s was not acknowledged in time and goes to the %(role)s: "
        "%(category)s%(place)s."
    ),
}


def alert_texts(
    event: str, report: dict[str, Any], categories: ReportCategories | None = None
) -> dict[str, str]:
    """The alert as one line in each language: the category in the county's words for that
    language, the place as the warden gave it."""
    code = report.get("service_code") or ""
    stored_name = report.get("service_name") or code
    if report.get("address"):
        place = report["address"]
    elif report.get("lat") is not None and report.get("long") is not None:
        place = f"{report['lat']:.5f}, {report['long']:.5f}"
    else:
        place = ""
    escalated_to = (report.get("extended_attributes") or {}).get("escalated_to") or ""
    texts = {}
    for language in LANGUAGES:
        gettext = translations(language).gettext
        localized = categories.localized(language) if categories else None
        values = {
            "id": report.get("service_request_id", ""),
            "category": localized.name_of(code, stored_name) if localized else stored_name,
            "place": gettext(N_(", at %(place)s")) % {"place": place} if place else "",
            "role": gettext(ROLES[escalated_to]) if escalated_to in ROLES else escalated_to,
        }
        texts[language] = gettext(ALERT_TEXTS.get(event, ALERT_TEXTS["new"])) % values
    return texts


def alert_message(
    event: str,
    report: dict[str, Any],
    seq: int,
    publisher: str,
    at: datetime,
    categories: ReportCategories | None = None,
) -> dict[str, Any]:
    return {
        "schema": ALERT_SCHEMA,
        "id": str(uuid.uuid4()),
        "publisher": publisher,
        "seq": seq,
        "event": event,  # new | escalated
        "sent_at": at.isoformat(),
        "text": alert_texts(event, report, categories),
        "report": report,
    }


class AlertSink(Protocol):
    def publish(self, event: str, squad: str | None, report: dict[str, Any], at: datetime) -> None:
        """Send one alert; never raises (an alert failing must not fail the report)."""
        ...


class NoAlerts:
    """No broker configured: alerts are only on the officers' pages."""

    def publish(self, event: str, squad: str | None, report: dict[str, Any], at: datetime) -> None:
        return None


class RecordingAlerts:
    """Keeps what would have been sent (tests)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []

    def publish(self, event: str, squad: str | None, report: dict[str, Any], at: datetime) -> None:
        self.sent.append((alert_topic(squad), {"event": event, "report": report}))


class MqttAlerts:
    """Publishes through paho-mqtt (MQTT v5, QoS 1). paho keeps QoS 1 messages published
    while the connection is down and sends them on reconnect.

    A worker that consumes passes its consumer's `client`: the broker ties a worker's account
    to one client id, so a second connection under the same account would push the
    consumer's session off the broker."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        username: str | None = None,
        password: str | None = None,
        keepalive_s: int = 30,
        tls: bool = False,
        tls_ca_file: str | None = None,
        client: Any = None,
        categories: ReportCategories | None = None,
    ) -> None:
        import paho.mqtt.client as paho
        from paho.mqtt.enums import CallbackAPIVersion

        self.host, self.port, self.keepalive_s = host, port, keepalive_s
        self.categories = categories
        self.publisher = f"central-{socket.gethostname()}-{os.getpid()}"
        self._seq = itertools.count(1)
        self._lock = threading.Lock()
        self.connected = threading.Event()
        self._owns_client = client is None
        if client is not None:
            self.client = client
            self.connected.set()  # paho queues while the shared connection is down
            return
        self.client = paho.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"{self.publisher}-alerts-{uuid.uuid4().hex[:6]}",
            protocol=paho.MQTTv5,
        )
        self.client.enable_logger(logging.getLogger("central.alerts.paho"))
        if username:
            self.client.username_pw_set(username, password)
        if tls:
            self.client.tls_set(ca_certs=tls_ca_file)
        self.client.reconnect_delay_set(0.5, 30)
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_disconnect = lambda *_a: self.connected.clear()

    def start(self) -> MqttAlerts:
        if self._owns_client:
            self.client.connect_async(self.host, self.port, keepalive=self.keepalive_s)
            self.client.loop_start()
        return self

    def stop(self) -> None:
        if self._owns_client:
            self.client.disable_logger()  # paho logs its own clean disconnect at ERROR
            self.client.disconnect()
            self.client.loop_stop()

    def publish(self, event: str, squad: str | None, report: dict[str, Any], at: datetime) -> None:
        topic = alert_topic(squad)
        with self._lock:  # seq order == publish order
            seq = next(self._seq)
            message = alert_message(event, report, seq, self.publisher, at, self.categories)
            try:
                self.client.publish(topic, json.dumps(message), qos=1)
            except Exception:  # pragma: no cover - paho raises only on programming errors
                log.exception("alert on %s not published", topic)


def valid_squad(name: str) -> bool:
    """A squad name is a topic level: letters, digits, `_` and `-`."""
    return re.fullmatch(SEGMENT_PATTERN, name) is not None and name != NO_SQUAD
