"""`roadguard broker config` output starts Mosquitto as root (it drops to the `mosquitto`
user, who must read the password file and write the data dir) and as a plain user, and the
accounts it wrote get in."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt.broker import free_port, mosquitto_binary, write_broker_config
from roadguard.testing.delivery import wait_for


def _write_and_start(folder: Path, port: int, user: str | None) -> subprocess.Popen[bytes]:
    """Write the config as `user` (a forked child that drops to it: that user cannot reach
    this virtualenv under /root) and start Mosquitto as that user."""
    pid = os.fork()
    if pid == 0:  # the child: become `user`, write, exit without running pytest's cleanup
        code = 1
        try:
            if user is not None:
                entry = pwd.getpwnam(user)
                os.setgid(entry.pw_gid)
                os.setuid(entry.pw_uid)
            write_broker_config(
                folder, {"gate-a": "pw-a"}, central_password="pw-c", port=port,
                bind_address="127.0.0.1",
            )  # fmt: skip
            code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "writing the broker config failed"
    return subprocess.Popen(
        [mosquitto_binary(), "-c", str(folder / "mosquitto.conf")],
        user=user,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def _logs_in(port: int, user: str, password: str) -> bool:
    ok = threading.Event()
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="probe", protocol=paho.MQTTv5)
    client.username_pw_set(user, password)
    client.on_connect = lambda _c, _u, _f, reason, _p: ok.set() if not reason.is_failure else None
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        return ok.wait(10)
    finally:
        client.disconnect()
        client.loop_stop()


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("user", [None, "nobody"])
def test_written_config_starts_and_takes_its_accounts(user: str | None) -> None:
    if os.geteuid() != 0:
        pytest.skip("starts Mosquitto as root and as another user")
    base = Path(tempfile.mkdtemp(prefix="roadguard-brokercfg-"))
    base.chmod(0o755)  # the broker's user must reach the folder, as under /etc
    folder = base / "broker"
    if user is not None:
        folder.mkdir()
        shutil.chown(folder, user)
    port = free_port()
    process = _write_and_start(folder, port, user)
    try:
        wait_for(lambda: process.poll() is not None or _listening(port), 20, "mosquitto")
        assert process.poll() is None, process.stdout.read().decode(errors="replace")
        assert (folder / "data").is_dir()
        assert _logs_in(port, "gate-a", "pw-a") and _logs_in(port, "central", "pw-c")
        assert not _logs_in(port, "gate-a", "wrong")
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(base, ignore_errors=True)
