"""The simulated nodes: real `NodeLink`s with their own outboxes, hosted by processes of
up to `NODES_PER_HOST` nodes (`python -m roadguard.testing.fleet.nodes host`)."""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import logging
import os
import pickle
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from mqtt.client import NodeLink
from mqtt.config import MqttConfig
from mqtt.payloads import (
    new_id,
)
from roadguard.testing.fleet.scripts import EpisodeScript, FleetError, node_id

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Sent:
    msg_id: str
    node_id: str
    episode_id: str
    event: str
    at: float  # time.time() just before the publish call


NODES_PER_HOST = 100  # paho waits in select(): every fd of a process must stay below 1024


class NodeHost:
    """Nodes `first` .. `first + count - 1`, each a real `NodeLink` with its own client id,
    persistent session and outbox under `workdir`, in this process.

    A process holds ~7 file descriptors per node (socket, paho's wake-up pair, the outbox's
    SQLite files) and paho's loop uses `select()`, which cannot watch a descriptor >= 1024:
    past ~135 nodes in one process the newest links fail ("Unspecified error") and retry
    forever. `Fleet` therefore spreads the nodes over processes of `NODES_PER_HOST`."""

    def __init__(
        self,
        workdir: Path,
        broker_port: int,
        first: int,
        count: int,
        *,
        outbox_synchronous: str = "NORMAL",
    ) -> None:
        self.first = first
        self.links = [
            NodeLink(
                MqttConfig(
                    port=broker_port,
                    client_id=f"roadguard-{node}",
                    outbox_path=workdir / f"outbox-{node}.sqlite",
                    outbox_synchronous=outbox_synchronous,
                    reconnect_min_s=0.1,
                    reconnect_max_s=2.0,
                    # a receipt lost with a killed worker is made good within seconds
                    receipt_timeout_s=2.0,
                    receipt_timeout_max_s=8.0,
                ),
                node,
                cameras=["cam-1", "cam-2"],
            )
            for node in (node_id(i) for i in range(first, first + count))
        ]

    def start(self, timeout: float = 60.0) -> NodeHost:
        for link in self.links:
            link.start()
        deadline = time.monotonic() + timeout
        for link in self.links:
            if not link.wait_connected(max(0.1, deadline - time.monotonic())):
                raise FleetError(f"node {link.node_id} did not connect within {timeout:.0f} s")
        return self

    def publish(self, scripts: Sequence[EpisodeScript], start: float) -> list[Sent]:
        """Publish every step of every script at its due time after `start` (a
        `time.time()`). One driver thread: the offered load is paced by the schedule, and a
        driver that falls behind publishes at once. Returns what was sent, in order."""
        due = [(s.due(i), n, i) for n, s in enumerate(scripts) for i in range(len(s.steps))]
        heapq.heapify(due)
        start_mono = time.monotonic() + (start - time.time())
        sent: list[Sent] = []
        while due:
            at, n, i = heapq.heappop(due)
            delay = start_mono + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)  # pacing the offered load, not synchronisation
            script = scripts[n]
            link = self.links[script.node - self.first]
            now = time.time()
            record = script.record(i, datetime.fromtimestamp(now, UTC), link.node_id)
            msg_id = link.publish_episode(record)
            assert msg_id is not None
            sent.append(Sent(msg_id, link.node_id, script.episode_id, str(record.event), now))
        return sent

    def wait_drained(self, timeout: float) -> list[str]:
        """Node ids whose outbox still holds messages after `timeout`."""
        deadline = time.monotonic() + timeout
        return [
            link.node_id
            for link in self.links
            if not link.wait_drained(max(0.0, deadline - time.monotonic()))
        ]

    def close(self) -> None:
        for link in self.links:
            with contextlib.suppress(Exception):
                link.close(timeout=2.0)


class Fleet:
    """`nodes` simulated nodes in `ceil(nodes / NODES_PER_HOST)` host processes
    (``python -m roadguard.testing.fleet.nodes host``), driven over their stdin/stdout one
    JSON line at a time. The hosts start publishing at one shared wall-clock instant."""

    def __init__(self, workdir: Path, broker_port: int, nodes: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.nodes = nodes
        self.hosts: list[tuple[int, int, subprocess.Popen[str]]] = []
        root = Path(__file__).resolve().parents[3]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
        for first in range(0, nodes, NODES_PER_HOST):
            count = min(NODES_PER_HOST, nodes - first)
            argv = [sys.executable, "-m", "roadguard.testing.fleet.nodes", "host", "--port",
                    str(broker_port), "--workdir", str(workdir), "--first", str(first),
                    "--count", str(count)]  # fmt: skip
            with (workdir / f"host-{first}.log").open("ab") as err:
                process = subprocess.Popen(
                    argv, cwd=root, env=env, text=True, stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE, stderr=err,
                )  # fmt: skip
            self.hosts.append((first, count, process))

    def _ask(self, command: dict[str, Any], timeout: float = 120.0) -> list[dict[str, Any]]:
        """Send `command` to every host, then read one answer from each (in order)."""
        for first, _count, process in self.hosts:
            assert process.stdin is not None
            try:
                process.stdin.write(json.dumps(command) + "\n")
                process.stdin.flush()
            except BrokenPipeError:
                raise FleetError(f"node host {first} died:\n{self._log(first)}") from None
        answers = []
        for first, _count, process in self.hosts:
            assert process.stdout is not None
            line = process.stdout.readline()
            if not line:
                raise FleetError(f"node host {first} died:\n{self._log(first)}")
            answer = json.loads(line)
            if "error" in answer:
                raise FleetError(f"node host {first}: {answer['error']}\n{self._log(first)}")
            answers.append(answer)
        return answers

    def _log(self, first: int) -> str:
        path = self.workdir / f"host-{first}.log"
        return "\n".join(path.read_text(errors="replace").splitlines()[-20:])

    def start(self) -> Fleet:
        self._ask({"cmd": "start"})
        return self

    def publish(self, scripts: Sequence[EpisodeScript], lead_s: float = 0.5) -> list[Sent]:
        """Hand each host its nodes' scripts; all start `lead_s` from now."""
        tag = new_id().hex[:8]
        for first, count, _process in self.hosts:
            mine = [s for s in scripts if first <= s.node < first + count]
            (self.workdir / f"scripts-{tag}-{first}.pickle").write_bytes(pickle.dumps(mine))
        start = time.time() + lead_s
        answers = self._ask({"cmd": "publish", "tag": tag, "start": start})
        sent = [Sent(*row) for answer in answers for row in answer["sent"]]
        return sorted(sent, key=lambda s: s.at)

    def unsent(self) -> int:
        """Episode rows the broker has not acknowledged yet, over every node's outbox (read
        from the files: the hosts are other processes)."""
        total = 0
        for path in self.workdir.glob("outbox-*.sqlite"):
            db = sqlite3.connect(path, timeout=10)
            try:
                total += db.execute(
                    "SELECT count(*) FROM messages WHERE due_at = 0 AND kind = 'episode'"
                ).fetchone()[0]
            except sqlite3.OperationalError:  # not created yet
                pass
            finally:
                db.close()
        return total

    def signal(self, sig: int) -> None:
        """Signal every host process (SIGSTOP / SIGCONT: see `Rig.run`'s backlog)."""
        for _first, _count, process in self.hosts:
            if process.poll() is None:
                process.send_signal(sig)

    def wait_drained(self, timeout: float) -> list[str]:
        answers = self._ask({"cmd": "drain", "timeout": timeout}, timeout + 30)
        return [node for answer in answers for node in answer["undrained"]]

    def close(self) -> None:
        for _first, _count, process in self.hosts:
            with contextlib.suppress(Exception):
                assert process.stdin is not None
                process.stdin.write(json.dumps({"cmd": "close"}) + "\n")
                process.stdin.close()
        for _first, _count, process in self.hosts:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _host_main(argv: list[str]) -> int:
    """A node host: answers one JSON line on stdout per command line on stdin."""
    parser = argparse.ArgumentParser(prog="python -m roadguard.testing.fleet.nodes host")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--first", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    host = NodeHost(args.workdir, args.port, args.first, args.count)

    def answer(value: dict[str, Any]) -> None:
        print(json.dumps(value), flush=True)

    for line in sys.stdin:
        command = json.loads(line)
        try:
            match command["cmd"]:
                case "start":
                    host.start()
                    answer({"started": len(host.links)})
                case "publish":
                    path = args.workdir / f"scripts-{command['tag']}-{args.first}.pickle"
                    scripts = pickle.loads(path.read_bytes())
                    sent = host.publish(scripts, command["start"])
                    answer({"sent": [astuple(s) for s in sent]})
                case "drain":
                    answer({"undrained": host.wait_drained(command["timeout"])})
                case "close":
                    break
        except Exception as exc:  # reported to the parent, which fails the run
            logging.exception("node host command failed")
            answer({"error": f"{type(exc).__name__}: {exc}"})
    host.close()
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "host":
        sys.exit(_host_main(sys.argv[2:]))
    sys.exit(
        "usage: python -m roadguard.testing.fleet.nodes host "
        "--port P --workdir D --first N --count C"
    )
