"""The centre's settings: one pydantic model, filled from the environment or a YAML file.

Every default makes one machine a whole system (SQLite, evidence on local disk); scale is
chosen here, by configuration, never by a code fork (design.md, "Defaults and scale").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Literal

from pydantic import Field

from central.reports.categories import ReportsConfig
from configbase import StrictModel, data_dir


class EvidenceConfig(StrictModel):
    """Where evidence pictures live. `local` is content-addressed files on disk; another
    backend (an S3-compatible store) plugs in behind `central.evidence.EvidenceStore`."""

    backend: Literal["local"] = Field(
        "local", title="Backend", description="Evidence store implementation."
    )
    path: Path | None = Field(
        None,
        title="Folder",
        description="Local store root; defaults to <data dir>/central/evidence.",
    )
    max_bytes: int = Field(
        8 * 1024 * 1024, gt=0, title="Size limit", description="Largest accepted evidence file."
    )


class MqttConfig(StrictModel):
    host: str = Field("127.0.0.1", title="Broker host", description="MQTT v5 broker address.")
    port: int = Field(1883, gt=0, lt=65536, title="Broker port", description="TCP port.")
    group: str = Field(
        "central",
        pattern=r"^[\w-]+$",
        title="Share group",
        description="Shared-subscription group; workers in one group split the load.",
    )
    client_id: str = Field(
        "", title="Client id", description="Empty: a random id per worker process."
    )
    username: str | None = Field(
        None,
        title="User",
        description="Broker account of this worker; with `roadguard broker config` the broker "
        "uses it as the client id, so each worker needs its own (central, central-2, ...).",
    )
    password: str | None = Field(None, title="Password", description="Broker password.")
    tls: bool = Field(False, title="TLS", description="Connect with TLS (mqtts).")
    tls_ca_file: Path | None = Field(
        None, title="CA file", description="PEM of the CA that signed the broker; None: system."
    )
    keepalive_s: int = Field(30, gt=0, title="Keep-alive", description="MQTT keep-alive.")


class CentralSettings(StrictModel):
    """Settings of one central worker."""

    database_url: str = Field(
        "",
        title="Database URL",
        description="SQLAlchemy URL; empty means SQLite in the data dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db.",
    )
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    review_window_s: float = Field(
        3600,
        gt=0,
        title="Review window",
        description="An officer must decide a violation within this; then it escalates.",
    )
    scheduler_poll_s: float = Field(
        15,
        gt=0,
        title="Scheduler poll",
        description="Longest wait between deadline checks (also woken by new deadlines).",
    )
    secret_key: str = Field(
        default_factory=lambda: secrets.token_urlsafe(32),
        min_length=16,
        title="Session secret",
        description="Signs session cookies; set it so sessions survive a restart.",
    )
    https_only_cookies: bool = Field(
        False, title="Secure cookies", description="Mark the session cookie Secure (behind TLS)."
    )
    session_max_age_s: int = Field(
        12 * 3600, gt=0, title="Session age", description="A login lasts this long."
    )
    queue_poll_ms: int = Field(
        5000,
        ge=200,
        title="Queue refresh",
        description="How often an open review queue page checks for changes.",
    )

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        folder = data_dir() / "central"
        folder.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{folder / 'central.db'}"

    def evidence_root(self) -> Path:
        return self.evidence.path or data_dir() / "central" / "evidence"

    @classmethod
    def from_env(cls, **overrides: object) -> CentralSettings:
        """DATABASE_URL, ROADGUARD_SECRET_KEY, ROADGUARD_EVIDENCE_DIR, MQTT_HOST, MQTT_PORT,
        MQTT_USERNAME, MQTT_PASSWORD, MQTT_TLS (1/true), MQTT_TLS_CA (a PEM file),
        ROADGUARD_REPORT_CATEGORIES (a YAML file of the county's report categories)."""
        values: dict[str, object] = {}
        if url := os.environ.get("DATABASE_URL"):
            values["database_url"] = url
        if key := os.environ.get("ROADGUARD_SECRET_KEY"):
            values["secret_key"] = key
        if folder := os.environ.get("ROADGUARD_EVIDENCE_DIR"):
            values["evidence"] = EvidenceConfig(path=Path(folder))
        if categories := os.environ.get("ROADGUARD_REPORT_CATEGORIES"):
            values["reports"] = ReportsConfig(categories_file=Path(categories))
        mqtt: dict[str, object] = {}
        if host := os.environ.get("MQTT_HOST"):
            mqtt["host"] = host
        if port := os.environ.get("MQTT_PORT"):
            mqtt["port"] = int(port)
        if username := os.environ.get("MQTT_USERNAME"):
            mqtt["username"] = username
        if password := os.environ.get("MQTT_PASSWORD"):
            mqtt["password"] = password
        if os.environ.get("MQTT_TLS", "").lower() in ("1", "true", "yes"):
            mqtt["tls"] = True
        if ca := os.environ.get("MQTT_TLS_CA"):
            mqtt["tls"], mqtt["tls_ca_file"] = True, Path(ca)
        if mqtt:
            values["mqtt"] = MqttConfig(**mqtt)
        values.update(overrides)
        return cls(**values)
