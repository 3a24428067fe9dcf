"""Measuring a run: CPU from /proc, percentiles, the figures of a run and their tables."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


CENTRE_PARTS = frozenset({"postgres", "mosquitto"})  # besides the workers


def scaling_ceiling(one_worker: RunResult) -> float:
    """The most two workers can give over one on this machine, from where the CPU went
    while one worker drained a backlog: the centre's parts (workers, PostgreSQL, the broker)
    at twice the rate need twice their CPU, and the machine has `os.cpu_count()` cores.
    On 2 cores, a worker that takes one core by itself caps the ratio below 2 whatever the
    code does; a figure under 1.8 here says the goal cannot be shown on this machine."""
    centre = sum(
        v for k, v in one_worker.cpu_s.items() if k.startswith("worker-") or k in CENTRE_PARTS
    )
    cores_used = centre / max(1e-9, one_worker.elapsed_s)
    return min(2.0, (os.cpu_count() or 1) / max(1e-9, cores_used))


def cpu_table(results: Iterable[RunResult]) -> str:
    """Where the CPU went during each run, as a share of the machine's cores; `machine`
    includes whatever else the machine was running."""
    cores = os.cpu_count() or 1
    lines = [f"CPU during each run (% of {cores} cores; worker CPU ms per message):"]
    for r in results:
        parts = ", ".join(f"{k} {100 * v / (r.elapsed_s * cores):.0f}%" for k, v in r.cpu_s.items())
        lines.append(f"  {r.label:<24} {r.worker_cpu_ms_per_msg:5.2f} ms/msg  {parts}")
    return "\n".join(lines)
