"""The centre's settings from the environment: every setting by its systematic name, the
short names deployments already use, and an error that names the variable to fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from central.config import SHORT_NAMES, CentralSettings
from roadguard.cli import main


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A variable left in the developer's shell must not decide these tests."""
    for name in SHORT_NAMES:
        monkeypatch.delenv(name, raising=False)


def test_every_setting_has_a_systematic_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROADGUARD_REVIEW_WINDOW_S", "600")
    monkeypatch.setenv("ROADGUARD_MQTT__PORT", "8883")
    monkeypatch.setenv("ROADGUARD_REPORTS__MQTT_ALERTS", "true")
    monkeypatch.setenv("ROADGUARD_EVIDENCE__MAX_BYTES", "1000")
    settings = CentralSettings()
    assert settings.review_window_s == 600
    assert settings.mqtt.port == 8883
    assert settings.reports.mqtt_alerts is True
    assert settings.evidence.max_bytes == 1000


def test_the_short_names_fill_the_same_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://rg@db/rg")
    monkeypatch.setenv("ROADGUARD_EVIDENCE_DIR", "/srv/evidence")
    monkeypatch.setenv("ROADGUARD_REPORT_CATEGORIES", "/etc/roadguard/county.yaml")
    monkeypatch.setenv("MQTT_HOST", "broker.lan")
    monkeypatch.setenv("MQTT_CLIENT_ID", "central-a")
    monkeypatch.setenv("MQTT_TLS_CA", "/etc/roadguard/ca.pem")
    settings = CentralSettings()
    assert settings.database_url == "postgresql+psycopg://rg@db/rg"
    assert settings.evidence_root() == Path("/srv/evidence")
    assert settings.reports.categories_file == Path("/etc/roadguard/county.yaml")
    assert (settings.mqtt.host, settings.mqtt.client_id) == ("broker.lan", "central-a")
    assert settings.mqtt.tls and settings.mqtt.tls_ca_file == Path("/etc/roadguard/ca.pem")


def test_arguments_beat_systematic_names_which_beat_short_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("MQTT_HOST", "short.lan")
    monkeypatch.setenv("MQTT_PORT", "1884")
    monkeypatch.setenv("ROADGUARD_MQTT__HOST", "systematic.lan")
    assert CentralSettings().mqtt.host == "systematic.lan"
    # an argument for one key of a section keeps the environment's other keys
    settings = CentralSettings(mqtt={"host": "argument.lan"})
    assert (settings.mqtt.host, settings.mqtt.port) == ("argument.lan", 1884)


def test_a_bad_variable_is_named_in_the_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ROADGUARD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("MQTT_PORT", "eighteen-eighty-three")
    with pytest.raises(SystemExit) as stopped:
        main(["central", "migrate"])
    message = str(stopped.value.code)
    assert "mqtt.port (ROADGUARD_MQTT__PORT or MQTT_PORT)" in message
    assert "valid integer" in message
    assert not (tmp_path / "central").exists(), "nothing is opened with broken settings"
