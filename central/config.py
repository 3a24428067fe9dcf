"""The centre's settings: one pydantic-settings model, filled from arguments and the
environment.

Every setting has a systematic variable: `ROADGUARD_` and the field's path joined by `__`
(`ROADGUARD_REVIEW_WINDOW_S`, `ROADGUARD_MQTT__HOST`, `ROADGUARD_REPORTS__MQTT_ALERTS`).
The short names operators already use (`DATABASE_URL`, `MQTT_HOST`, ... in `SHORT_NAMES`)
fill the same settings and lose to the systematic ones. Arguments win over both.

Every default makes one machine a whole system (SQLite, evidence on local disk); scale is
chosen here, by configuration, never by a code fork (design.md, "Defaults and scale").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from central.places import MapConfig
from central.reports.categories import ReportsConfig
from configbase import StrictModel, data_dir

# The short variable names of the README and deployments, each naming one setting's path.
SHORT_NAMES: dict[str, tuple[str, ...]] = {
    "DATABASE_URL": ("database_url",),
    "ROADGUARD_EVIDENCE_DIR": ("evidence", "path"),
    "ROADGUARD_REPORT_CATEGORIES": ("reports", "categories_file"),
    "MQTT_HOST": ("mqtt", "host"),
    "MQTT_PORT": ("mqtt", "port"),
    "MQTT_USERNAME": ("mqtt", "username"),
    "MQTT_PASSWORD": ("mqtt", "password"),
    "MQTT_CLIENT_ID": ("mqtt", "client_id"),
    "MQTT_TLS": ("mqtt", "tls"),
    "MQTT_TLS_CA": ("mqtt", "tls_ca_file"),
}


class EvidenceConfig(StrictModel):
    """Where evidence pictures live. `local` is content-addressed files on disk, for one
    machine; `database` is content-addressed rows in the centre's database, so several
    centre machines share them; another backend (an S3-compatible store) plugs in behind
    `central.evidence.EvidenceStore`."""

    backend: Literal["local", "database"] = Field(
        "local",
        title="Backend",
        description="local: files under `path` (one machine); database: rows in the "
        "centre's database (several machines on one PostgreSQL).",
    )
    path: Path | None = Field(
        None,
        title="Folder",
        description="Local store root; defaults to <data dir>/central/evidence (backend local).",
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

    @model_validator(mode="before")
    @classmethod
    def _a_ca_file_means_tls(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("tls_ca_file") and "tls" not in data:
            return {**data, "tls": True}
        return data


class UiConfig(StrictModel):
    """What the pages speak and which clock they show."""

    default_language: Literal["zh_CN", "en"] = Field(
        "zh_CN",
        title="Default language",
        description="For users who have not chosen one (each user's choice is remembered).",
    )
    time_zone: str = Field(
        "Asia/Shanghai",
        title="Time zone",
        description="IANA name; every time on the pages and in CSV exports is shown in it.",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {name!r} (an IANA name, e.g. Asia/Shanghai)"
            ) from None
        return name

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)


class ShortNames(PydanticBaseSettingsSource):
    """`SHORT_NAMES` read from the environment into the nested shape of the settings."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything is done in __call__

    def __call__(self) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for variable, path in SHORT_NAMES.items():
            raw = os.environ.get(variable)
            if not raw:
                continue
            section = values
            for key in path[:-1]:
                section = section.setdefault(key, {})
            section[path[-1]] = raw
        return values


class CentralSettings(BaseSettings):
    """Settings of one central worker."""

    model_config = SettingsConfigDict(
        env_prefix="ROADGUARD_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        populate_by_name=True,
    )

    database_url: str = Field(
        "",
        title="Database URL",
        description="SQLAlchemy URL; empty means SQLite in the data dir. "
        "PostgreSQL: postgresql+psycopg://user:pass@host/db.",
    )
    evidence: EvidenceConfig = Field(default_factory=EvidenceConfig)
    mqtt: MqttConfig = Field(default_factory=MqttConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    ui: UiConfig = Field(default_factory=UiConfig)
    map: MapConfig = Field(default_factory=MapConfig)
    review_window_s: float = Field(
        3600,
        gt=0,
        title="Review window",
        description="An officer must decide a violation within this; then it escalates.",
    )
    undo_window_s: float = Field(
        10,
        ge=0,
        le=300,
        title="Undo window",
        description="An officer may take back a ticket or dismissal this long after it.",
    )
    claim_s: float = Field(
        120,
        gt=0,
        title="Claim",
        description="Opening a review shows it to the other officers as being looked at, "
        "this long (renewed when it is opened again).",
    )
    scheduler_poll_s: float = Field(
        15,
        gt=0,
        title="Scheduler poll",
        description="Longest wait between deadline checks (also woken by new deadlines).",
    )
    secret_key: str | None = Field(
        None,
        min_length=16,
        title="Session secret",
        description="Signs session cookies; the same on every worker. Required by "
        "`central serve` unless it runs a demo (then a random one per start).",
    )
    demo: bool = Field(
        False,
        title="Demo",
        description="A demo on this machine: no secret needed, the demo accounts allowed, "
        "served on 127.0.0.1 only.",
    )
    https_only_cookies: bool = Field(
        False, title="Secure cookies", description="Mark the session cookie Secure (behind TLS)."
    )
    session_max_age_s: int = Field(
        12 * 3600, gt=0, title="Session age", description="A login lasts this long."
    )
    metrics_token: str | None = Field(
        None,
        min_length=16,
        title="Metrics token",
        description="Prometheus sends it as `Authorization: Bearer <token>` to read /metrics. "
        "Unset: /metrics answers only clients on this machine (loopback); behind a reverse "
        "proxy on the same machine, set it.",
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
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, ShortNames(settings_cls), file_secret_settings


def settings_error(exc: ValidationError) -> str:
    """A settings error as an operator reads it: which setting, which variables set it."""
    lines = ["central settings are not valid:"]
    for error in exc.errors():
        path = tuple(str(part) for part in error["loc"])
        variables = ["ROADGUARD_" + "__".join(path).upper()]
        variables += [name for name, target in SHORT_NAMES.items() if target == path]
        lines.append(f"  {'.'.join(path)} ({' or '.join(variables)}): {error['msg']}")
    return "\n".join(lines)
