"""A small version of the fleet load test (benchmarks/bench_fleet.py): 10 simulated nodes,
Mosquitto, PostgreSQL and real `roadguard central serve` workers on one shared subscription,
one worker then two. Nothing lost, nothing applied twice, both workers get a share."""

from __future__ import annotations

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
