"""The whole rig: broker, database, workers and fleet in one temp folder; a run publishes a
script, waits until everything is committed, then measures and verifies."""

from __future__ import annotations

import contextlib
import logging
import re
import signal
import statistics
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path

from mqtt.broker import Broker
from mqtt.client import NodeLink
from mqtt.config import MqttConfig
from roadguard.testing.fleet.centre import CentralWorker, FleetDatabase
from roadguard.testing.fleet.measure import RunResult, cpu_seconds, machine_busy_seconds, percentile
from roadguard.testing.fleet.nodes import Fleet, Sent
from roadguard.testing.fleet.scripts import (
    FINAL_STATE,
    NODE_PREFIX,
    PROBE_NODE,
    EpisodeScript,
    FleetError,
    probe_record,
)

log = logging.getLogger(__name__)

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
        backlog: bool = False,
    ) -> RunResult:
        """Publish `scripts`, wait until the database holds every message (failing after
        `stall_timeout` s without progress), then measure and verify. `after_publish` runs
        once everything is sent (e.g. to kill a worker while it works through the backlog).

        `backlog`: the workers are frozen (SIGSTOP) while the fleet publishes, so the broker
        holds the whole script, and thawed (SIGCONT) once the broker has acknowledged all
        of it; rates are measured from the thaw. That is the centre's capacity, whatever
        the fleet can offer per second. The fleet is frozen while the workers drain the
        backlog and thawed after: in production 200 nodes are 200 other machines, and here
        their receipt handling would take half of the two cores the centre is measured on.
        The broker queues the receipts for the frozen nodes' sessions, which take them
        when thawed; the run then checks every node's outbox drained as usual."""
        assert self.fleet is not None
        log_offset = self.broker.log_path.stat().st_size if self.broker_debug_log else 0
        cpu_before = self.cpu_snapshot()
        if backlog:
            for worker in self.workers:
                worker.signal(signal.SIGSTOP)
        sent = self.fleet.publish(scripts)
        ids = [s.msg_id for s in sent]
        since = None
        if backlog:
            deadline = time.monotonic() + stall_timeout
            while self.fleet.unsent() and time.monotonic() < deadline:
                time.sleep(0.1)  # poll interval of the nodes' outbox files
            self.fleet.signal(signal.SIGSTOP)
            cpu_before = self.cpu_snapshot()
            since = time.time()
            for worker in self.workers:
                worker.signal(signal.SIGCONT)
        try:
            if after_publish is not None:
                after_publish(self, ids)
            self._wait_committed(ids, stall_timeout)
            cpu_after = self.cpu_snapshot()
        finally:
            if backlog:
                self.fleet.signal(signal.SIGCONT)
        undrained = self.fleet.wait_drained(30.0)
        result = self._measure(label, scripts, sent, offered_msgs_per_s, since)
        result.cpu_s = {k: cpu_after[k] - cpu_before.get(k, 0.0) for k in cpu_after}
        if undrained:
            result.problems.append(f"{len(undrained)} node outboxes not drained")
        if self.broker_debug_log:
            result.broker_deliveries = self._deliveries(log_offset)
            self._check_deliveries(result)
        return result

    def _wait_committed(self, ids: list[str], stall_timeout: float) -> None:
        """Until the database holds every id, or nothing new arrived for `stall_timeout` s
        (the verification reports what is missing)."""
        last, last_change = -1, time.monotonic()
        while (count := self.database.committed_count(ids)) < len(ids):
            if count != last:
                last, last_change = count, time.monotonic()
            elif time.monotonic() - last_change > stall_timeout:
                return
            for worker in self.workers:
                if not worker.alive:
                    raise FleetError(f"{worker.name} exited:\n{worker.log_tail()}")
            time.sleep(0.25)  # poll interval of the database, with a no-progress deadline

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
        since: float | None = None,
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
        published = min(s.at for s in sent)
        first = since or published  # a backlog is timed from when the workers were let go
        last = max(row[4] for row in rows.values()) if rows else first
        elapsed = max(1e-9, last - first)
        return RunResult(
            label=label,
            workers=len(self.workers),
            episodes=len(scripts),
            messages=len(sent),
            offered_msgs_per_s=offered,
            sent_msgs_per_s=len(sent) / max(1e-9, max(s.at for s in sent) - published),
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
