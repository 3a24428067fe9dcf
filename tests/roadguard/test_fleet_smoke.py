"""A small version of the fleet load test (benchmarks/bench_fleet.py): 10 simulated nodes,
Mosquitto, PostgreSQL and real `roadguard central serve` workers on one shared subscription,
one worker then two. Nothing lost, nothing applied twice, both workers get a share."""

from __future__ import annotations

import signal
import time

from roadguard.testing.fleet import Rig, episode_scripts, table

NODES = 10


def test_fleet_loses_and_double_counts_nothing(tmp_path):
    rig = Rig(tmp_path)
    try:
        rig.start(NODES)
        results = []
        for workers in (1, 2):
            rig.scale_to(workers)
            scripts = episode_scripts(NODES, 3, 100.0, seed=workers)
            results.append(rig.run(f"smoke, {workers} worker(s)", scripts, 100.0))
    finally:
        rig.close()
    report = table(results)
    for result in results:
        assert not result.problems, report
        assert result.messages == sum(result.share.values()) > 0, report
    assert set(results[1].share) == {"worker-1", "worker-2"}, report
    assert min(results[1].share.values()) > 0, report


def test_a_worker_killed_mid_backlog_loses_nothing(tmp_path):
    """A central worker frozen (SIGSTOP) with the broker handing it its share, then killed
    with SIGKILL and restarted (same client id): nothing it was handed is lost, every
    message lands once. Frozen first, so the backlog provably exists when it dies."""
    killed = []

    def kill_worker_2(rig, ids):
        deadline = time.monotonic() + 60
        while rig._deliveries(0).get("worker-2", 0) == 0:  # noqa: SLF001 - the broker's log
            assert time.monotonic() < deadline, "the broker handed worker-2 nothing"
            time.sleep(0.02)  # polls the broker's log, which has no change event to wait on
        killed.append(rig.database.committed_count(ids))
        rig.kill_and_restart("worker-2")

    rig = Rig(tmp_path)
    try:
        rig.start(NODES)
        rig.scale_to(2)
        victim = next(w for w in rig.workers if w.name == "worker-2")
        victim.process.send_signal(signal.SIGSTOP)
        scripts = episode_scripts(NODES, 20, 1000.0, seed=7)
        result = rig.run("worker killed", scripts, 1000.0, after_publish=kill_worker_2)
    finally:
        rig.close()
    report = table([result])
    assert killed and killed[0] < result.messages, report  # killed with work still to do
    assert not result.problems, report
