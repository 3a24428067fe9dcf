"""How a node reaches its broker. Every field explains itself (style.md, Frigate's config):
an operator reading a validation error should know which key to fix."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, model_validator

from configbase import StrictModel


class TlsConfig(StrictModel):
    ca_file: Path | None = Field(
        None, title="CA file", description="PEM of the CA that signed the broker; None: system."
    )
    cert_file: Path | None = Field(None, title="Client certificate (PEM), for mutual TLS")
    key_file: Path | None = Field(None, title="Client key (PEM), for mutual TLS")
    insecure: bool = Field(
        False,
        title="Skip hostname check",
        description="Only for a lab broker with a self-signed certificate; never in the field.",
    )

    @model_validator(mode="after")
    def _pair(self) -> TlsConfig:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("tls: set both cert_file and key_file, or neither")
        return self


class MqttConfig(StrictModel):
    host: str = Field("127.0.0.1", title="Broker host", min_length=1)
    port: int = Field(1883, gt=0, lt=65536, title="Broker port", description="8883 for TLS.")
    client_id: str | None = Field(
        None,
        title="Client id",
        description="Must stay the same across restarts for the broker to keep the session; "
        "default 'roadguard-<node id>'.",
        max_length=64,
    )
    username: str | None = Field(None, title="Username", description="Usually the node id.")
    password: SecretStr | None = Field(None, title="Password")
    tls: TlsConfig | None = Field(None, title="TLS", description="Absent: plain TCP.")
    keepalive_s: int = Field(30, ge=5, le=3600, title="Keepalive (s)")
    session_expiry_s: int = Field(
        7 * 24 * 3600,
        ge=0,
        title="Session expiry (s)",
        description="How long the broker keeps this node's session (subscriptions, queued "
        "commands) while it is away.",
    )
    max_inflight: int = Field(
        200,
        ge=1,
        le=65535,
        title="In-flight window",
        description="QoS 1 messages sent and not yet acknowledged; paho's default is 20.",
    )
    await_receipts: bool = Field(
        True,
        title="Wait for the centre's receipt",
        description="Keep episodes and evidence in the outbox until the centre says it "
        "committed them (end-to-end ack), not just until the broker's PUBACK. Turn off only "
        "for a broker with no RoadGuard centre behind it.",
    )
    receipt_timeout_s: float = Field(
        20.0,
        gt=0,
        title="Receipt timeout (s)",
        description="A message sent this long ago with no receipt is sent again; the wait "
        "doubles with each attempt.",
    )
    receipt_timeout_max_s: float = Field(
        300.0, gt=0, title="Longest receipt timeout (s)", description="Cap of that doubling."
    )
    receipt_window: int = Field(
        2000,
        ge=1,
        title="Receipt window",
        description="Messages sent and not yet confirmed by the centre; past this the node "
        "waits, so a centre that is away does not get its backlog re-sent over and over.",
    )
    reconnect_min_s: float = Field(0.5, gt=0, title="First reconnect delay (s)")
    reconnect_max_s: float = Field(30.0, gt=0, title="Longest reconnect delay (s)")
    outbox_path: Path | None = Field(
        None,
        title="Outbox file",
        description="SQLite file of messages not yet acknowledged; default in the data dir.",
    )
    outbox_max_bytes: int = Field(512 * 1024 * 1024, gt=0, title="Outbox size limit (bytes)")
    outbox_max_messages: int = Field(200_000, gt=0, title="Outbox message limit")
    outbox_synchronous: str = Field(
        "FULL",
        pattern="^(FULL|NORMAL)$",
        title="Outbox fsync",
        description="FULL survives power loss; NORMAL survives only a process crash.",
    )

    @model_validator(mode="after")
    def _delays(self) -> MqttConfig:
        if self.reconnect_max_s < self.reconnect_min_s:
            raise ValueError("reconnect_max_s must be >= reconnect_min_s")
        if self.receipt_timeout_max_s < self.receipt_timeout_s:
            raise ValueError("receipt_timeout_max_s must be >= receipt_timeout_s")
        return self

    @classmethod
    def from_url(cls, url: str, **fields: object) -> MqttConfig:
        """``mqtt://user:pass@host:1883`` or ``mqtts://host:8883`` (TLS, system CAs)."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts"):
            raise ValueError(f"broker url {url!r}: scheme must be mqtt:// or mqtts://")
        values: dict[str, object] = {"host": parts.hostname or "127.0.0.1"}
        values["port"] = parts.port or (8883 if parts.scheme == "mqtts" else 1883)
        if parts.username:
            values["username"] = unquote(parts.username)
        if parts.password:
            values["password"] = unquote(parts.password)
        if parts.scheme == "mqtts":
            values["tls"] = TlsConfig()
        return cls.model_validate({**values, **fields})
