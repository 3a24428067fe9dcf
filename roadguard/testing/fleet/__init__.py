"""A simulated fleet of edge nodes against real central workers: the load generator of the
scale test, shared by `benchmarks/bench_fleet.py` and the smoke test (`tests/roadguard`).

One module a job: `scripts` (what is published), `nodes` (who publishes it), `centre`
(the database and the workers), `measure` (figures and tables), `rig` (all of it together).

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

from roadguard.testing.fleet.measure import RunResult, cpu_table, table
from roadguard.testing.fleet.rig import Rig
from roadguard.testing.fleet.scripts import FleetError, episode_scripts

__all__ = ["FleetError", "Rig", "RunResult", "cpu_table", "episode_scripts", "table"]
