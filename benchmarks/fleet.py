"""A simulated fleet of edge nodes against real central workers: the load generator of the
scale test, shared by `benchmarks/bench_fleet.py` and the smoke test.

The parts, each real where it matters:

- `FleetDatabase`: a throwaway PostgreSQL (`central.testing.pg.PostgresCluster`), migrated
  once, with `track_commit_timestamp` on (so a row's commit time is known exactly) and one
  bench-only column on `ingested_messages`, ``bench_worker DEFAULT
  current_setting('application_name')``: each worker connects with its own
  `application_name`, so the database itself says which worker applied which message,
  without touching `central/`.
- `CentralWorker`: one real ``roadguard central serve --mqtt HOST:PORT`` process with
  `DATABASE_URL` set; every worker joins the same share group (``$share/central/...``) under
  its own stable client id (``fleet-<name>``).
- `Fleet`: N simulated nodes, each a real `NodeLink` with its own client id, persistent
  session and SQLite outbox, hosted by `NodeHost` processes of up to `NODES_PER_HOST` nodes
  (paho's `select()` cannot watch file descriptors >= 1024). One driver thread per host
  publishes its nodes' episode transitions at their due times (`episode_scripts`), so the
  offered load is paced exactly and the generator costs little more than the outbox writes.
- `Rig.run`: publish a script, wait (polling the database with a no-progress deadline)
  until every message is committed, then measure and verify: messages and whole episodes
  per second, publish -> commit latency p50/p99, per-worker share, nothing lost, nothing
  applied twice.

The simulated outboxes use ``synchronous=NORMAL``: here 200 nodes share one virtual disk,
where a FULL commit (one fsync) costs ~6.6 ms and would make the generator, not the centre,
the bottleneck; each real node has its own disk.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import json
import logging
import os
import pickle
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import astuple, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

from mqtt.broker import Broker, free_port
from mqtt.client import NodeLink
from mqtt.config import MqttConfig
from mqtt.payloads import (
    AnnouncementRecord,
    EpisodeRecord,
    Transition,
    WarningRecord,
    new_id,
)
from mqtt.testing import numbered_record

log = logging.getLogger(__name__)

NODE_PREFIX = "fleet-"
PROBE_NODE = "probe-node"  # readiness probes; never counted in a run

# The warning ladder's defaults (design.md): grace, repeat, final, in camera seconds.
GRACE_S, REPEAT_S, FINAL_S = 60.0, 120.0, 180.0
# How episodes end, with the share of each and the warnings given before the end.
OUTCOME_MIX: tuple[tuple[str, float, int], ...] = (
    ("cleared", 0.30, 0),  # left within the grace period: stopped -> cleared
    ("dissuaded", 0.25, 1),  # left after the first warning
    ("dissuaded", 0.15, 2),  # left after the second warning
    ("violation", 0.30, 2),  # stayed: stopped -> warned -> warned -> violation
)
MESSAGES_PER_EPISODE = sum(share * (2 + warnings) for _, share, warnings in OUTCOME_MIX)
FINAL_STATE = {"cleared": "cleared", "dissuaded": "dissuaded", "violation": "pending_review"}
PLATE_PROVINCES = "京沪粤浙苏川鄂湘"


class FleetError(AssertionError):
    """The load test saw a loss, a double count, or a part that would not start."""


# -- episode streams --------------------------------------------------------------------------
@dataclass(frozen=True)
class Step:
    offset_s: float  # camera seconds after the vehicle stopped
    event: str
    warning: int | None = None


@dataclass
class EpisodeScript:
    """One vehicle in one zone, from `stopped` to its end, as the edge would report it."""

    node: int
    camera_id: str
    episode_id: str
    outcome: str
    warnings: int
    start_wall: float  # seconds after the run starts
    compression: float  # camera seconds per wall second
    camera_t0: float  # camera clock at `stopped`
    steps: list[Step]
    plate: str | None
    zone: tuple[str, str]
    box: list[float]

    @property
    def final_event(self) -> str:
        return self.steps[-1].event

    def due(self, index: int) -> float:
        """Wall seconds after the run starts when step `index` is published."""
        return self.start_wall + self.steps[index].offset_s / self.compression

    def record(self, index: int, now: datetime, node_id: str) -> EpisodeRecord:
        """The full snapshot after step `index`, as the edge would make it."""
        step = self.steps[index]
        t = round(self.camera_t0 + step.offset_s, 3)
        given = [s for s in self.steps[: index + 1] if s.event == "warned"]
        warnings = [
            WarningRecord(
                n=s.warning,
                at=round(self.camera_t0 + s.offset_s, 3),
                evidence=[f"{self.episode_id}/warning{s.warning}-frame.jpg"],
                announcement=AnnouncementRecord(
                    clip=f"warning{s.warning}.wav", text=f"warning {s.warning}", status="played"
                ),
            )
            for s in given
        ]
        ended = step.event in ("cleared", "dissuaded")
        evidence = [ref for w in warnings for ref in w.evidence]
        if step.event == "violation":
            evidence.append(f"{self.episode_id}/violation-frame.jpg")
        jitter = 0.4 * index
        return EpisodeRecord(
            node_id=node_id,
            camera_id=self.camera_id,
            event=Transition(step.event),
            time=t,
            occurred_at=now,
            warning=step.warning,
            episode_id=self.episode_id,
            zone_id=self.zone[0],
            zone_name=self.zone[1],
            vehicle_class="car",
            box=[self.box[0] + jitter, self.box[1], self.box[2] + jitter, self.box[3]],
            anchor=list(self.box),
            stopped_at=round(self.camera_t0, 3),
            warnings=warnings,
            violation_at=t if step.event == "violation" else None,
            ended_at=t if ended else None,
            outcome=step.event if step.event in FINAL_STATE else None,
            track_ids=[int(self.camera_t0) % 10_000 + index // 2],
            plate=self.plate if len(given) >= 2 else None,  # read for the second warning
            evidence=evidence,
        )


def _steps(rng: random.Random, outcome: str, warnings: int) -> list[Step]:
    steps = [Step(0.0, "stopped")]
    if warnings == 0:
        return [*steps, Step(rng.uniform(10, GRACE_S - 5), "cleared")]
    steps.append(Step(GRACE_S, "warned", 1))
    if warnings == 2:
        steps.append(Step(GRACE_S + REPEAT_S, "warned", 2))
    if outcome == "violation":
        return [*steps, Step(GRACE_S + REPEAT_S + FINAL_S, "violation")]
    window = REPEAT_S if warnings == 1 else FINAL_S
    return [*steps, Step(steps[-1].offset_s + rng.uniform(10, window - 10), "dissuaded")]


def episode_scripts(
    nodes: int,
    episodes_per_node: int,
    offered_msgs_per_s: float,
    *,
    compression: float = 300.0,
    seed: int = 7,
) -> list[EpisodeScript]:
    """Episodes for `nodes` nodes (two cameras each), starting at uniform random times over
    the span that makes the whole fleet offer `offered_msgs_per_s` on average. The ladder's
    timing (60 / 120 / 180 s) runs `compression` times faster than real life."""
    rng = random.Random(seed)
    total = nodes * episodes_per_node
    span = total * MESSAGES_PER_EPISODE / offered_msgs_per_s
    outcomes, weights = [(o, w) for o, _, w in OUTCOME_MIX], [s for _, s, _ in OUTCOME_MIX]
    scripts = []
    for node in range(nodes):
        clock = rng.uniform(1_000, 90_000)  # the camera's clock: seconds since it started
        for _ in range(episodes_per_node):
            outcome, warnings = rng.choices(outcomes, weights)[0]
            start = rng.uniform(0, span)
            x, y = rng.uniform(40, 1500), rng.uniform(300, 900)
            plate = (
                f"{rng.choice(PLATE_PROVINCES)}{rng.choice('ABCDE')}·{rng.randint(0, 99999):05d}"
            )
            scripts.append(
                EpisodeScript(
                    node=node,
                    camera_id=f"cam-{rng.randint(1, 2)}",
                    episode_id=str(new_id()),
                    outcome=outcome,
                    warnings=warnings,
                    start_wall=start,
                    compression=compression,
                    camera_t0=clock + start * compression,
                    steps=_steps(rng, outcome, warnings),
                    plate=plate,
                    zone=rng.choice([("school-gate", "School gate"), ("bus-stop", "Bus stop")]),
                    box=[round(x, 1), round(y, 1), round(x + 260, 1), round(y + 150, 1)],
                )
            )
    return scripts


# -- the fleet --------------------------------------------------------------------------------
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


def node_id(index: int) -> str:
    return f"{NODE_PREFIX}{index:03d}"


class Fleet:
    """`nodes` simulated nodes in `ceil(nodes / NODES_PER_HOST)` host processes
    (``python -m benchmarks.fleet host``), driven over their stdin/stdout one JSON line at a
    time. The hosts start publishing at one shared wall-clock instant."""

    def __init__(self, workdir: Path, broker_port: int, nodes: int) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.workdir = workdir
        self.nodes = nodes
        self.hosts: list[tuple[int, int, subprocess.Popen[str]]] = []
        root = Path(__file__).resolve().parents[1]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), *sys.path])}
        for first in range(0, nodes, NODES_PER_HOST):
            count = min(NODES_PER_HOST, nodes - first)
            argv = [sys.executable, "-m", "benchmarks.fleet", "host", "--port",
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
    parser = argparse.ArgumentParser(prog="python -m benchmarks.fleet host")
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


# -- the database -----------------------------------------------------------------------------
class FleetDatabase:
    """A throwaway PostgreSQL with commit timestamps, one database, migrated once."""

    def __init__(self) -> None:
        from central.testing.pg import PostgresCluster

        # Its own temp folder: as root the cluster runs as `postgres`, who must reach it.
        self.cluster = PostgresCluster()
        self.url = ""
        self.engine: Engine | None = None

    def start(self) -> FleetDatabase:
        from central.db import Database

        cluster = self.cluster.start()
        admin = create_engine(make_url(cluster.url()), isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("ALTER SYSTEM SET track_commit_timestamp = on"))
            connection.execute(text('CREATE DATABASE "roadguard_fleet"'))
        admin.dispose()
        # A postmaster setting: restart (pg_ctl reuses the options the cluster started with).
        cluster._run(  # noqa: SLF001 - the test cluster's own runner (runuser as root)
            str(cluster.bin / "pg_ctl"), "-D", str(cluster.data), "-l", str(cluster.log),
            "-w", "-t", "60", "-m", "fast", "restart",
        )  # fmt: skip
        self.url = cluster.url("roadguard_fleet")
        central = Database(self.url)
        central.migrate()
        central.dispose()
        self.engine = create_engine(make_url(self.url))
        with self.engine.begin() as connection:
            connection.execute(
                text(
                    "ALTER TABLE ingested_messages ADD COLUMN bench_worker text "
                    "DEFAULT current_setting('application_name')"
                )
            )
            on = connection.execute(text("SHOW track_commit_timestamp")).scalar()
        if on != "on":
            raise FleetError("track_commit_timestamp did not turn on")
        return self

    def postmaster_pid(self) -> int:
        try:
            return int((self.cluster.data / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def worker_url(self, worker: str) -> str:
        return f"{self.url}?application_name={worker}"

    def stop(self) -> None:
        if self.engine is not None:
            self.engine.dispose()
        self.cluster.stop()

    def _query(self, sql: str, **params: Any) -> list[Any]:
        assert self.engine is not None
        with self.engine.connect() as connection:
            return list(connection.execute(text(sql), params))

    def committed_count(self, ids: Sequence[str]) -> int:
        sql = "SELECT count(*) FROM ingested_messages WHERE id = ANY(:ids)"
        return self._query(sql, ids=list(ids))[0][0]

    def committed(self, ids: Sequence[str]) -> list[Any]:
        """(id, node_id, seq, worker, commit epoch seconds) of the given message ids."""
        return self._query(
            "SELECT id, node_id, seq, bench_worker, "
            "extract(epoch FROM pg_xact_commit_timestamp(xmin))::float8 "
            "FROM ingested_messages WHERE id = ANY(:ids)",
            ids=list(ids),
        )

    def episodes(self, ids: Sequence[str]) -> dict[str, Any]:
        rows = self._query(
            "SELECT id, state, last_event, last_seq FROM episodes WHERE id = ANY(:ids)",
            ids=list(ids),
        )
        return {row[0]: row for row in rows}

    def audit_counts(self, ids: Sequence[str]) -> Counter[str]:
        rows = self._query(
            "SELECT episode_id, count(*) FROM audit WHERE episode_id = ANY(:ids) "
            "GROUP BY episode_id",
            ids=list(ids),
        )
        return Counter({episode: count for episode, count in rows})

    def duplicate_ids(self) -> int:
        """Message ids stored more than once, over the whole table (must be 0)."""
        total, distinct = self._query("SELECT count(*), count(DISTINCT id) FROM ingested_messages")[
            0
        ]
        return total - distinct

    def workers_seen(self, node_id: str) -> set[str]:
        rows = self._query(
            "SELECT DISTINCT bench_worker FROM ingested_messages WHERE node_id = :node",
            node=node_id,
        )
        return {row[0] for row in rows}


# -- central workers --------------------------------------------------------------------------
class CentralWorker:
    """One ``roadguard central serve --mqtt`` process (web service, scheduler and consumer)."""

    def __init__(self, name: str, broker_port: int, database_url: str, workdir: Path) -> None:
        self.name = name
        self.broker_port = broker_port
        self.database_url = database_url
        self.workdir = workdir
        self.log_path = workdir / f"{name}.log"
        self.http_port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def client_id(self) -> str:
        """Its stable MQTT client id: the broker keeps its session across a restart."""
        return f"fleet-{self.name}"

    def start(self) -> CentralWorker:
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "ROADGUARD_EVIDENCE_DIR": str(self.workdir / "evidence"),
            "ROADGUARD_SECRET_KEY": "fleet-benchmark-secret-key",
        }
        argv = [sys.executable, "-m", "roadguard", "central", "serve",
                "--mqtt", f"127.0.0.1:{self.broker_port}",
                "--host", "127.0.0.1", "--port", str(self.http_port),
                "--client-id", self.client_id]  # fmt: skip
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                argv, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 25) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # uvicorn: graceful, consumer stops
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


# -- measuring and verifying ------------------------------------------------------------------
_TICKS = os.sysconf("SC_CLK_TCK")


def _proc_stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, CPU seconds used) of a live process, from /proc (Linux)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds(pids: Iterable[int], *, with_children: bool = False) -> float:
    """CPU seconds used so far by `pids` (and, optionally, their direct children: the
    PostgreSQL backends of a postmaster)."""
    wanted = {p for p in pids if p}
    total = 0.0
    if with_children:
        for entry in Path("/proc").iterdir():
            stat = _proc_stat(int(entry.name)) if entry.name.isdigit() else None
            if stat is not None and stat[0] in wanted:
                total += stat[1]
    for pid in wanted:
        if (stat := _proc_stat(pid)) is not None:
            total += stat[1]
    return total


def machine_busy_seconds() -> float:
    """CPU seconds all processes on the machine have used (from /proc/stat)."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    ticks = [int(v) for v in first]
    idle = ticks[3] + ticks[4]  # idle + iowait
    return (sum(ticks[:8]) - idle) / _TICKS


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * len(ordered)) - 1))]


@dataclass
class RunResult:
    label: str
    workers: int
    episodes: int
    messages: int
    offered_msgs_per_s: float
    sent_msgs_per_s: float  # what the fleet really published: messages / publishing span
    elapsed_s: float  # first publish -> last commit
    msgs_per_s: float
    episodes_per_s: float
    latency_p50_ms: float
    latency_p99_ms: float
    latency_max_ms: float
    share: dict[str, int]
    broker_deliveries: dict[str, int] = field(default_factory=dict)
    cpu_s: dict[str, float] = field(default_factory=dict)  # CPU seconds used during the run
    problems: list[str] = field(default_factory=list)

    @property
    def worker_cpu_ms_per_msg(self) -> float:
        used = sum(v for k, v in self.cpu_s.items() if k.startswith("worker-"))
        return 1000 * used / max(1, self.messages)

    @property
    def share_pct(self) -> dict[str, float]:
        return {w: round(100 * n / max(1, self.messages), 1) for w, n in self.share.items()}

    def extra_info(self) -> dict[str, Any]:
        return {
            "workers": self.workers,
            "episodes": self.episodes,
            "messages": self.messages,
            "offered_msgs_per_s": round(self.offered_msgs_per_s, 1),
            "sent_msgs_per_s": round(self.sent_msgs_per_s, 1),
            "elapsed_s": round(self.elapsed_s, 2),
            "msgs_per_s": round(self.msgs_per_s, 1),
            "episodes_per_s": round(self.episodes_per_s, 1),
            "latency_p50_ms": round(self.latency_p50_ms, 1),
            "latency_p99_ms": round(self.latency_p99_ms, 1),
            "latency_max_ms": round(self.latency_max_ms, 1),
            "share": dict(self.share),
            "share_pct": self.share_pct,
            "broker_deliveries": dict(self.broker_deliveries),
            "cpu_s": {k: round(v, 2) for k, v in self.cpu_s.items()},
            "worker_cpu_ms_per_msg": round(self.worker_cpu_ms_per_msg, 2),
            "verified": not self.problems,
            "problems": list(self.problems),
        }


_SENDING = re.compile(r"Sending PUBLISH to (\S+) \(d(\d), q\d, r\d, m\d+, '([^']+)'")


class Rig:
    """Broker + database + workers + fleet, in one temp folder."""

    def __init__(self, workdir: Path | None = None, *, broker_debug_log: bool = True) -> None:
        self.workdir = Path(workdir or tempfile.mkdtemp(prefix="roadguard-fleet-"))
        self.broker = Broker(self.workdir / "broker")
        if broker_debug_log:
            # Every PUBLISH the broker sends is logged: per-client delivery counts, an
            # account of the share independent of the database.
            with self.broker.conf_path.open("a") as conf:
                conf.write("log_type debug\n")
        self.broker_debug_log = broker_debug_log
        self.database = FleetDatabase()
        self.workers: list[CentralWorker] = []
        self.fleet: Fleet | None = None
        self._probe: NodeLink | None = None

    def start(self, nodes: int) -> Rig:
        self.broker.start()
        self.database.start()
        self._probe = NodeLink(
            MqttConfig(
                port=self.broker.port,
                outbox_path=self.workdir / "outbox-probe.sqlite",
                outbox_synchronous="NORMAL",
            ),
            PROBE_NODE,
        )
        self._probe.start()
        self.fleet = Fleet(self.workdir / "nodes", self.broker.port, nodes).start()
        return self

    def scale_to(self, count: int, timeout: float = 90.0) -> None:
        """Run `count` workers, and return once each has committed a probe message (so the
        broker is handing it its share)."""
        while len(self.workers) < count:
            name = f"worker-{len(self.workers) + 1}"
            url = self.database.worker_url(name)
            self.workers.append(CentralWorker(name, self.broker.port, url, self.workdir).start())
        while len(self.workers) > count:
            self.workers.pop().stop()
        self._wait_consuming(timeout)

    def kill_and_restart(self, name: str) -> None:
        """SIGKILL a worker (no chance to finish anything) and start it again under the same
        name and MQTT client id, as systemd would."""
        index = next(i for i, w in enumerate(self.workers) if w.name == name)
        victim = self.workers[index]
        assert victim.process is not None
        victim.process.kill()
        victim.process.wait()
        url = self.database.worker_url(name)
        self.workers[index] = CentralWorker(name, self.broker.port, url, self.workdir).start()

    def _wait_consuming(self, timeout: float) -> None:
        assert self._probe is not None
        wanted = {w.name for w in self.workers}
        deadline = time.monotonic() + timeout
        n = 0
        while not wanted <= self.database.workers_seen(PROBE_NODE):
            for worker in self.workers:
                if not worker.alive:
                    raise FleetError(f"{worker.name} exited:\n{worker.log_tail()}")
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {w.name}\n{w.log_tail()}" for w in self.workers)
                raise FleetError(f"workers not consuming within {timeout:.0f} s\n{tails}")
            n += 1
            record = probe_record(n)
            self._probe.publish_episode(record)
            time.sleep(0.2)  # poll interval of the readiness check (one probe per poll)

    def run(
        self,
        label: str,
        scripts: Sequence[EpisodeScript],
        offered_msgs_per_s: float,
        *,
        stall_timeout: float = 60.0,
        after_publish: Callable[[Rig, list[str]], None] | None = None,
    ) -> RunResult:
        """Publish `scripts`, wait until the database holds every message (failing after
        `stall_timeout` s without progress), then measure and verify. `after_publish` runs
        once everything is sent (e.g. to kill a worker while it works through the backlog)."""
        assert self.fleet is not None
        log_offset = self.broker.log_path.stat().st_size if self.broker_debug_log else 0
        cpu_before = self.cpu_snapshot()
        sent = self.fleet.publish(scripts)
        ids = [s.msg_id for s in sent]
        if after_publish is not None:
            after_publish(self, ids)
        last, last_change = -1, time.monotonic()
        while (count := self.database.committed_count(ids)) < len(ids):
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout:
                break  # verification below reports what is missing
            for worker in self.workers:
                if not worker.alive:
                    raise FleetError(f"{worker.name} exited:\n{worker.log_tail()}")
            time.sleep(0.25)  # poll interval of the database, with a no-progress deadline
        cpu_after = self.cpu_snapshot()
        undrained = self.fleet.wait_drained(30.0)
        result = self._measure(label, scripts, sent, offered_msgs_per_s)
        result.cpu_s = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
        if undrained:
            result.problems.append(f"{len(undrained)} node outboxes not drained")
        if self.broker_debug_log:
            result.broker_deliveries = self._deliveries(log_offset)
            self._check_deliveries(result)
        return result

    def cpu_snapshot(self) -> dict[str, float]:
        """CPU seconds so far of each part, and of the whole machine (other tenants too)."""
        assert self.fleet is not None
        parts = {w.name: cpu_seconds([w.process.pid]) for w in self.workers if w.process}
        parts["postgres"] = cpu_seconds([self.database.postmaster_pid()], with_children=True)
        parts["mosquitto"] = cpu_seconds([self.broker_pid()])
        parts["fleet"] = cpu_seconds(p.pid for _f, _c, p in self.fleet.hosts)
        parts["machine"] = machine_busy_seconds()
        return parts

    def broker_pid(self) -> int:
        process = self.broker._process  # noqa: SLF001 - the Broker we started
        return process.pid if process is not None else 0

    def _measure(
        self,
        label: str,
        scripts: Sequence[EpisodeScript],
        sent: Sequence[Sent],
        offered: float,
    ) -> RunResult:
        problems: list[str] = []
        rows = {row[0]: row for row in self.database.committed([s.msg_id for s in sent])}
        missing = [s for s in sent if s.msg_id not in rows]
        if missing:
            problems.append(f"LOST {len(missing)} of {len(sent)} messages (e.g. {missing[0]})")
        if (dups := self.database.duplicate_ids()) != 0:
            problems.append(f"{dups} message ids stored twice")
        share = Counter(row[3] for row in rows.values())
        if sum(share.values()) != len(sent) - len(missing):
            problems.append(f"per-worker counts {dict(share)} do not sum to {len(sent)}")
        strangers = set(share) - {w.name for w in self.workers}
        if strangers:
            problems.append(f"rows applied by unknown workers {strangers}")
        # every episode present, in its final state, with its newest snapshot kept
        episode_ids = [s.episode_id for s in scripts]
        stored = self.database.episodes(episode_ids)
        newest_seq: dict[str, int] = defaultdict(int)
        for s in sent:
            if s.msg_id in rows:
                newest_seq[s.episode_id] = max(newest_seq[s.episode_id], rows[s.msg_id][2])
        wrong = []
        for script in scripts:
            row = stored.get(script.episode_id)
            expected = (FINAL_STATE[script.final_event], script.final_event)
            if row is None or (row[1], row[2]) != expected:
                wrong.append((script.episode_id, expected, row and (row[1], row[2])))
            elif row[3] != newest_seq[script.episode_id]:
                wrong.append((script.episode_id, "last_seq", row[3]))
        if wrong:
            problems.append(f"{len(wrong)} episodes missing or not final (e.g. {wrong[0]})")
        audits = self.database.audit_counts(episode_ids)
        twice = {e: n for e, n in audits.items() if n != 1}
        unaudited = [e for e in episode_ids if e not in audits]
        if twice or unaudited:
            problems.append(
                f"audit rows: {len(twice)} episodes with !=1 transition, {len(unaudited)} with none"
            )
        # figures
        latencies = [(rows[s.msg_id][4] - s.at) * 1000 for s in sent if s.msg_id in rows]
        first = min(s.at for s in sent)
        last = max(row[4] for row in rows.values()) if rows else first
        elapsed = max(1e-9, last - first)
        return RunResult(
            label=label,
            workers=len(self.workers),
            episodes=len(scripts),
            messages=len(sent),
            offered_msgs_per_s=offered,
            sent_msgs_per_s=len(sent) / max(1e-9, max(s.at for s in sent) - first),
            elapsed_s=elapsed,
            msgs_per_s=len(rows) / elapsed,
            episodes_per_s=len(scripts) / elapsed,
            latency_p50_ms=statistics.median(latencies) if latencies else float("nan"),
            latency_p99_ms=percentile(latencies, 0.99),
            latency_max_ms=max(latencies, default=float("nan")),
            share=dict(sorted(share.items())),
            problems=problems,
        )

    def _deliveries(self, offset: int) -> dict[str, int]:
        """Fleet episode PUBLISHes the broker sent to each worker since `offset`, by worker
        name; redeliveries (DUP flag) are counted under ``<name>:dup``."""
        names = {w.client_id: w.name for w in self.workers if w.alive}
        counts: Counter[str] = Counter()
        with self.broker.log_path.open("rb") as handle:
            handle.seek(offset)
            for raw in handle:
                match = _SENDING.search(raw.decode(errors="replace"))
                if match is None:
                    continue
                client, dup, topic = match.groups()
                if client not in names or not topic.endswith("/episode"):
                    continue
                if f"/{NODE_PREFIX}" not in topic:
                    continue
                counts[names[client] + (":dup" if dup == "1" else "")] += 1
        return dict(sorted(counts.items()))

    def _check_deliveries(self, result: RunResult) -> None:
        """A worker cannot apply more than the broker gave it. It may be given more than it
        applies: a node re-sends what the centre has not confirmed (a frozen or killed
        worker's share), and the idempotent ingest absorbs the repeats."""
        deliveries = {k: v for k, v in result.broker_deliveries.items() if ":" not in k}
        short = {w: n for w, n in result.share.items() if n > deliveries.get(w, 0)}
        if short:
            result.problems.append(
                f"broker deliveries {result.broker_deliveries} < applied {result.share} "
                "(a message applied by a worker it was never delivered to)"
            )

    def close(self) -> None:
        for worker in self.workers:
            with contextlib.suppress(Exception):
                worker.stop()
        self.workers.clear()
        if self.fleet is not None:
            self.fleet.close()
        if self._probe is not None:
            with contextlib.suppress(Exception):
                self._probe.close(timeout=2.0)
        with contextlib.suppress(Exception):
            self.database.stop()
        self.broker.stop()


def probe_record(n: int) -> EpisodeRecord:
    """A one-message episode the readiness check publishes as `PROBE_NODE`."""
    return numbered_record(n, PROBE_NODE).model_copy(
        update={"episode_id": f"probe-{new_id()}", "zone_id": "probe", "zone_name": "Probe"}
    )


def table(results: Iterable[RunResult]) -> str:
    """The figures as a fixed-width table."""
    header = (
        f"{'run':<24}{'workers':>8}{'episodes':>9}{'msgs':>6}{'offered/s':>10}{'sent/s':>7}"
        f"{'msgs/s':>8}{'eps/s':>7}{'p50 ms':>8}{'p99 ms':>8}  per-worker share"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        share = ", ".join(f"{w} {n} ({r.share_pct[w]:.0f}%)" for w, n in r.share.items())
        verdict = "OK" if not r.problems else "FAIL: " + "; ".join(r.problems)
        lines.append(
            f"{r.label:<24}{r.workers:>8}{r.episodes:>9}{r.messages:>6}"
            f"{r.offered_msgs_per_s:>10.0f}{r.sent_msgs_per_s:>7.0f}{r.msgs_per_s:>8.1f}"
            f"{r.episodes_per_s:>7.1f}{r.latency_p50_ms:>8.0f}{r.latency_p99_ms:>8.0f}"
            f"  {share}  [{verdict}]"
        )
    return "\n".join(lines)


def cpu_table(results: Iterable[RunResult]) -> str:
    """Where the CPU went during each run, as a share of the machine's cores; `machine`
    includes whatever else the machine was running."""
    cores = os.cpu_count() or 1
    lines = [f"CPU during each run (% of {cores} cores; worker CPU ms per message):"]
    for r in results:
        parts = ", ".join(f"{k} {100 * v / (r.elapsed_s * cores):.0f}%" for k, v in r.cpu_s.items())
        lines.append(f"  {r.label:<24} {r.worker_cpu_ms_per_msg:5.2f} ms/msg  {parts}")
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "host":
        sys.exit(_host_main(sys.argv[2:]))
    sys.exit("usage: python -m benchmarks.fleet host --port P --workdir D --first N --count C")
