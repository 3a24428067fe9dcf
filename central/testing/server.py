"""A real `roadguard central serve` process, for the tests that measure what a request costs
the service (its resident memory, its temporary files) and for schemathesis: an in-process
app would share the test's memory and hide what the server really holds.

For tests; the service never imports it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from central.testing.centres import REPORT_USERS, add_report_users, api_key_for

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class RunningCentre:
    """The server's base URL, its process, and an API key per user of `REPORT_USERS`."""

    url: str
    process: subprocess.Popen[str]
    keys: dict[str, str]
    tmp: Path
    log: list[str] = field(default_factory=list)

    def memory(self, what: str = "VmRSS") -> int:
        """The server's resident memory in bytes: now (VmRSS) or its peak so far (VmHWM)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{what}:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError(f"no {what} in /proc status")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def central_serve(tmp_path: Path, **env: str) -> Iterator[RunningCentre]:
    """`roadguard central serve` on SQLite in `tmp_path`, with the report users (and their
    API keys) made beforehand; `env` adds settings (ROADGUARD_...). Waits for uvicorn's
    "running" line (no polling), stops the process afterwards."""
    from central.centre import Centre
    from central.config import CentralSettings, EvidenceConfig

    database = f"sqlite:///{tmp_path / 'central.db'}"
    evidence = tmp_path / "evidence"
    settings = CentralSettings(
        database_url=database,
        evidence=EvidenceConfig(path=evidence),
        secret_key="test-secret-key-0123456789",
    )
    centre = Centre.open(settings)
    try:
        add_report_users(centre)
        keys = {name: api_key_for(centre, name) for name in REPORT_USERS}
    finally:
        centre.close()
    temp = tmp_path / "tmp"  # the server's TMPDIR: what it spools to disk is seen here
    temp.mkdir(exist_ok=True)
    port = _free_port()
    environment = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "DATABASE_URL": database,
        "ROADGUARD_EVIDENCE_DIR": str(evidence),
        "ROADGUARD_SECRET_KEY": "test-secret-key-0123456789",
        "ROADGUARD_UI__DEFAULT_LANGUAGE": "en",
        "TMPDIR": str(temp),
        **env,
    }
    command = [sys.executable, "-m", "roadguard", "central", "serve", "--port", str(port)]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=environment,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    running = RunningCentre(f"http://127.0.0.1:{port}", process, keys, temp)
    ready = threading.Event()

    def read_log() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            running.log.append(line)
            if "Uvicorn running on" in line:
                ready.set()
        ready.set()  # the process ended: stop waiting

    reader = threading.Thread(target=read_log, daemon=True)
    reader.start()
    try:
        if not ready.wait(60) or process.poll() is not None:
            raise RuntimeError("central serve did not start:\n" + "".join(running.log))
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        reader.join(timeout=5)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: int  # body bytes the server took before it answered (or closed)


def post_streaming(
    url: str,
    path: str,
    chunks: Iterator[bytes],
    headers: dict[str, str],
    *,
    chunked: bool = True,
    timeout: float = 120,
) -> Answer:
    """POST `chunks` as they come (chunked transfer encoding unless `chunked` is false and a
    Content-Length is in `headers`), reading the answer while still sending: a server that
    refuses early answers, then stops reading, and the client must see that answer."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=timeout)
    head = [f"POST {path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}"]
    head += [f"{k}: {v}" for k, v in headers.items()]
    if chunked:
        head.append("Transfer-Encoding: chunked")
    sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
    stop = threading.Event()
    sent = 0

    def send() -> None:
        nonlocal sent
        try:
            for chunk in chunks:
                if stop.is_set():
                    return
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                sent += len(chunk)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        except OSError:
            return  # the server answered and closed: what it answered is what counts

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    try:
        response = http.client.HTTPResponse(sock)
        response.begin()
        body = response.read()
        return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, body, sent)
    finally:
        stop.set()
        sock.close()
        sender.join(timeout=30)


def zeros(total: int, chunk: int = 1 << 20) -> Iterator[bytes]:
    """`total` bytes of a JSON string's inside, in `chunk`-sized pieces."""
    block = b"a" * chunk
    while total > 0:
        yield block[: min(chunk, total)]
        total -= chunk
