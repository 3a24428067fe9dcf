"""A small version of the fleet load test (benchmarks/bench_fleet.py): 10 simulated nodes,
Mosquitto, PostgreSQL and real `roadguard central serve` workers on one shared subscription,
one worker then two. Nothing lost, nothing applied twice, both workers get a share."""

from __future__ import annotations

import time

from benchmarks.fleet import Rig, episode_scripts, table

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
    """A central worker killed with SIGKILL while the broker is handing it its share, and
    restarted (same client id): the broker kept what it had not acknowledged in its session,
    so every message still lands once."""
    killed = []

    def kill_worker_2(rig, ids):
        deadline = time.monotonic() + 60
        while (committed := rig.database.committed_count(ids)) < len(ids) // 10:
            assert time.monotonic() < deadline, "the workers commit nothing"
            time.sleep(0.02)  # polls the database, which has no change event to wait on
        killed.append(committed)
        rig.kill_and_restart("worker-2")

    rig = Rig(tmp_path)
    try:
        rig.start(NODES)
        rig.scale_to(2)
        scripts = episode_scripts(NODES, 20, 1000.0, seed=7)
        result = rig.run("worker killed", scripts, 1000.0, after_publish=kill_worker_2)
    finally:
        rig.close()
    report = table([result])
    assert killed and killed[0] < result.messages, report  # killed with work still to do
    assert not result.problems, report
