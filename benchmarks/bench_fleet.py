"""The fleet load test: 200 simulated edge nodes against Mosquitto + PostgreSQL and
real ``roadguard central serve`` workers on one shared subscription; one worker, then two,
in the same run (same broker, database and nodes; the nodes keep their sessions).

Per worker count, two runs (see `roadguard/testing/fleet/` for the parts):

- `burst`: every node starts `BURST_EPISODES` episodes within a fraction of a second (the
  fleet offers far more than the centre can take), so messages/s and episodes/s are the
  centre's sustained capacity, and the latency is mostly time spent queued in the broker.
  This is the timed part (`benchmark`): publish -> every message committed.
- `paced`: `PACED_EPISODES` episodes per node spread so the fleet offers `PACED_FRACTION` of
  the one-worker capacity the burst measured (the same offered load for both worker
  counts): the latency of a centre that keeps up.
- `backlog`: the workers are frozen while the fleet publishes `BACKLOG_EPISODES` per node,
  then let go: msgs/s from the thaw to the last commit is the centre's capacity, which a
  burst cannot show once one worker keeps up with everything the fleet (sharing the
  machine's cores) can send. The scaling two workers / one worker is this ratio.

Each run fails if anything is lost (a published message id or episode missing, or not in
its final state) or counted twice (a message id stored twice, an episode with more than one
workflow transition, per-worker counts that do not sum to what was published, or the
broker's own per-worker deliveries differing from what each worker applied).

Run: ``.venv/bin/pytest benchmarks/bench_fleet.py`` (or `make bench`); ~2-3 minutes on 2 cores.
``ROADGUARD_FLEET_NODES`` changes the fleet size.
"""

from __future__ import annotations

import os

import pytest

from roadguard.testing.fleet import Rig, RunResult, cpu_table, episode_scripts, table
from roadguard.testing.fleet.measure import scaling_ceiling

NODES = int(os.environ.get("ROADGUARD_FLEET_NODES", "200"))
BURST_EPISODES = 3  # per node
BURST_OFFERED = 2000.0  # msgs/s asked of the fleet: more than the centre can take
PACED_EPISODES = 2  # per node
PACED_FRACTION = 0.5  # of the one-worker burst capacity
PACED_FALLBACK = 60.0  # msgs/s when the one-worker run did not run first
BACKLOG_EPISODES = 10  # per node: a drain of several seconds, long enough to time
RESULTS: dict[str, RunResult] = {}


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    running = Rig(tmp_path_factory.mktemp("fleet"))
    try:
        yield running.start(NODES)
    finally:
        running.close()


@pytest.mark.benchmark(group="fleet")
@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
def test_fleet(benchmark, rig, workers, capsys):
    rig.scale_to(workers)
    burst = episode_scripts(NODES, BURST_EPISODES, BURST_OFFERED, seed=100 + workers)
    outcome: dict[str, RunResult] = {}

    def run_burst() -> None:
        outcome["burst"] = rig.run(f"burst, {workers} worker(s)", burst, BURST_OFFERED)

    benchmark.pedantic(run_burst, rounds=1, iterations=1)
    result = RESULTS[f"burst-{workers}"] = outcome["burst"]

    capacity = RESULTS["burst-1"].msgs_per_s if "burst-1" in RESULTS else None
    rate = PACED_FRACTION * capacity if capacity else PACED_FALLBACK
    paced = episode_scripts(NODES, PACED_EPISODES, rate, seed=200 + workers)
    paced_result = RESULTS[f"paced-{workers}"] = rig.run(f"paced, {workers} worker(s)", paced, rate)

    backlog = episode_scripts(NODES, BACKLOG_EPISODES, BURST_OFFERED, seed=300 + workers)
    label = f"backlog, {workers} worker(s)"
    backlog_result = RESULTS[f"backlog-{workers}"] = rig.run(
        label, backlog, BURST_OFFERED, backlog=True
    )

    benchmark.extra_info.update(
        nodes=NODES,
        burst=result.extra_info(),
        paced=paced_result.extra_info(),
        backlog=backlog_result.extra_info(),
    )
    with capsys.disabled():
        print(f"\n\nFleet load test, {NODES} nodes (publish -> PostgreSQL commit):")
        print(table(RESULTS.values()))
        print(cpu_table(RESULTS.values()))
        if "backlog-1" in RESULTS and "backlog-2" in RESULTS:
            one, two = RESULTS["backlog-1"].msgs_per_s, RESULTS["backlog-2"].msgs_per_s
            ceiling = scaling_ceiling(RESULTS["backlog-1"])
            print(f"capacity (backlog): 1 worker {one:.0f} msgs/s, 2 workers {two:.0f} msgs/s, "
                  f"2/1 = {two / one:.2f}; this machine's ceiling for 2/1 = {ceiling:.2f} "
                  "(the centre's CPU at twice the one-worker rate against its cores)")  # fmt: skip
            benchmark.extra_info.update(two_over_one=round(two / one, 2),
                                        two_over_one_ceiling=round(ceiling, 2))  # fmt: skip
    problems = result.problems + paced_result.problems + backlog_result.problems
    assert not problems, "\n".join(problems)
