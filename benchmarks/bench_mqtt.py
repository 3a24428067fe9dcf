"""What the durable outbox costs, against raw paho, on the same Mosquitto in the same run.

- `outbox-throughput`: N episode payloads through `NodeLink` (SQLite insert with fsync,
  dispatcher, QoS 1, PUBACK deletes) until a subscriber has all of them, published by
  `PRODUCERS` threads at once (a node's cameras and evidence uploads publish concurrently;
  their rows share fsyncs: the outbox's group commit). Each `publish_episode` still returns
  only once its row is on disk. No centre answers here, so the link does not wait for
  receipts (`await_receipts=False`): rows leave on the broker's PUBACK.
- `outbox-one-producer`: the same from one thread: one fsync per message, for reference.
- `raw-paho-throughput[records]`: the same N records turned into payloads and published with
  `paho.Client.publish(qos=1)`, from as many threads, same in-flight window, same
  subscriber: a node without the outbox. The outbox's ratio is taken against this one, so
  both sides do the same work but the outbox's. `[memory]`: the payloads serialised before
  the clock starts, paho's own ceiling, for reference.
- Latency (publish call -> subscriber callback) at a paced 200 msg/s for both, reported as
  p50/p99 in `extra_info`, with the throughput ratio raw/outbox.

The subscriber runs in a process of its own, as the centre does: in the publishing process
its paho thread would take a third of the one interpreter lock both sides need, and charge
the side that does more Python (the outbox) for the harness's own work. Times on both sides
are `time.monotonic()`, one clock for every process of the machine.

Run with `make bench` or `.venv/bin/pytest benchmarks/bench_mqtt.py`.
"""

from __future__ import annotations

import json
import multiprocessing
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from mqtt import topics
from mqtt.broker import Broker
from mqtt.client import NodeLink
from mqtt.config import MqttConfig
from mqtt.payloads import Episode, EpisodeRecord
from mqtt.testing import numbered_record

NODE = "bench-node"
N = 2000
PACED = 300
RATE = 200.0  # msg/s for the latency runs
INFLIGHT = 200
PRODUCERS = 8
RESULTS: dict[str, float] = {}


class Arrivals:
    """A bare subscriber: arrival time per message id, nothing validated (same for both)."""

    def __init__(self, port: int) -> None:
        self.times: dict[str, float] = {}
        self._cond = threading.Condition()
        self._ready = threading.Event()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.on_connect = lambda c, *_: c.subscribe(topics.ALL_EPISODES, qos=1)
        self.client.on_subscribe = lambda *_: self._ready.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self._ready.wait(10)

    def _on_message(self, client, userdata, message) -> None:
        now = time.monotonic()
        key = json.loads(message.payload)["id"]
        with self._cond:
            self.times.setdefault(key, now)
            self._cond.notify_all()

    def wait(self, count: int, timeout: float = 120) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.times) >= count, timeout)

    def reset(self) -> None:
        with self._cond:
            self.times.clear()

    def stop(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def _serve_arrivals(port: int, conn) -> None:  # noqa: ANN001 - a multiprocessing pipe end
    """The subscriber process: `Arrivals`, driven over a pipe."""
    sub = Arrivals(port)
    conn.send("ready")
    while True:
        command, arg = conn.recv()
        if command == "reset":
            sub.reset()
            conn.send(None)
        elif command == "wait":
            sub.wait(arg)
            with sub._cond:
                conn.send(dict(sub.times))
        else:
            sub.stop()
            conn.send(None)
            return


class ArrivalsProcess:
    """`Arrivals` in a process of its own, with the same calls; `times` is filled by `wait`."""

    def __init__(self, port: int) -> None:
        context = multiprocessing.get_context("spawn")  # the parent runs threads: no fork
        self._conn, child = context.Pipe()
        self._process = context.Process(target=_serve_arrivals, args=(port, child), daemon=True)
        self._process.start()
        assert self._conn.poll(30) and self._conn.recv() == "ready"
        self.times: dict[str, float] = {}

    def _ask(self, command: str, arg: object = None, timeout: float = 130) -> object:
        self._conn.send((command, arg))
        assert self._conn.poll(timeout), f"the subscriber process did not answer {command!r}"
        return self._conn.recv()

    def reset(self) -> None:
        self._ask("reset")
        self.times = {}

    def wait(self, count: int) -> None:
        self.times = self._ask("wait", count)  # type: ignore[assignment]

    def stop(self) -> None:
        self._ask("stop")
        self._process.join(10)


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Broker(tmp_path_factory.mktemp("bench-broker")) as running:
        yield running


@pytest.fixture(scope="module")
def arrivals(broker):
    sub = ArrivalsProcess(broker.port)
    yield sub
    sub.stop()


def _records(count: int) -> list[EpisodeRecord]:
    return [numbered_record(i, NODE) for i in range(count)]


def _paced(
    send: Callable[[int], str], count: int, arrivals: ArrivalsProcess
) -> tuple[float, float]:
    arrivals.reset()
    sent: dict[str, float] = {}
    start = time.monotonic()
    for i in range(count):
        delay = start + i / RATE - time.monotonic()
        if delay > 0:
            time.sleep(delay)  # pacing the offered load
        now = time.monotonic()
        sent[send(i)] = now
    arrivals.wait(count)
    latencies = sorted((arrivals.times[k] - t) * 1000 for k, t in sent.items())
    return statistics.median(latencies), latencies[int(len(latencies) * 0.99) - 1]


def _concurrently(publish: Callable[[int], object], count: int, producers: int) -> None:
    """Call `publish(i)` for every i < count from `producers` threads (i interleaved)."""
    threads = [
        threading.Thread(target=lambda k=k: [publish(i) for i in range(k, count, producers)])
        for k in range(producers)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def _outbox_link(broker, path: Path) -> NodeLink:
    config = MqttConfig(port=broker.port, outbox_path=path, max_inflight=INFLIGHT,
                        await_receipts=False)  # fmt: skip
    link = NodeLink(config, NODE)
    link.start()
    assert link.wait_connected(10)
    return link


@pytest.mark.benchmark(group="mqtt-throughput")
def test_outbox_throughput(benchmark, broker, arrivals, tmp_path: Path) -> None:
    link = _outbox_link(broker, tmp_path / "bench.sqlite")
    records = _records(N)

    def run() -> None:
        arrivals.reset()
        _concurrently(lambda i: link.publish_episode(records[i]), N, PRODUCERS)
        arrivals.wait(N)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)
    assert link.wait_drained(30)
    p50, p99 = _paced(lambda i: link.publish_episode(records[i]) or "", PACED, arrivals)
    link.close()
    RESULTS.update(outbox_rate=N / benchmark.stats.stats.mean, outbox_p50=p50, outbox_p99=p99)
    benchmark.extra_info.update(
        msgs_per_s=round(RESULTS["outbox_rate"]), latency_p50_ms=round(p50, 3),
        latency_p99_ms=round(p99, 3), synchronous="FULL", producers=PRODUCERS,
    )  # fmt: skip


@pytest.mark.benchmark(group="mqtt-throughput")
def test_outbox_one_producer(benchmark, broker, arrivals, tmp_path: Path) -> None:
    link = _outbox_link(broker, tmp_path / "bench-one.sqlite")
    records = _records(N // 4)

    def run() -> None:
        arrivals.reset()
        for record in records:
            link.publish_episode(record)
        arrivals.wait(len(records))

    benchmark.pedantic(run, rounds=2, iterations=1)
    link.close()
    RESULTS["outbox_one_rate"] = len(records) / benchmark.stats.stats.mean
    benchmark.extra_info.update(msgs_per_s=round(RESULTS["outbox_one_rate"]), producers=1)


@pytest.mark.benchmark(group="mqtt-throughput")
@pytest.mark.parametrize("payloads_from", ["records", "memory"])
def test_raw_paho_throughput(benchmark, broker, arrivals, payloads_from: str) -> None:
    """`records`: each producer turns the same records into payloads and publishes them, as
    a node without an outbox would; the outbox's ratio is taken against this. `memory`: the
    payloads are serialised before the clock starts, paho's own ceiling, for reference."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = topics.episode_topic(NODE, "cam-1")
    records = _records(N)
    payloads = [Episode.from_record(r, seq=i).to_json() for i, r in enumerate(records)]

    def publish(i: int) -> None:
        if payloads_from == "records":
            payload = Episode.from_record(records[i], seq=i).to_json()
        else:
            payload = payloads[i]
        client.publish(topic, payload, qos=1)

    def run() -> None:
        arrivals.reset()
        _concurrently(publish, N, PRODUCERS)
        arrivals.wait(N)

    benchmark.pedantic(run, rounds=3, iterations=1, warmup_rounds=1)

    def send(i: int) -> str:
        payload = Episode.from_record(numbered_record(i, NODE), seq=i)
        client.publish(topic, payload.to_json(), qos=1)
        return str(payload.id)

    p50, p99 = _paced(send, PACED, arrivals)
    client.disconnect()
    client.loop_stop()
    raw_rate = N / benchmark.stats.stats.mean
    ratio = RESULTS["outbox_rate"] / raw_rate if "outbox_rate" in RESULTS else float("nan")
    benchmark.extra_info.update(
        msgs_per_s=round(raw_rate), latency_p50_ms=round(p50, 3), latency_p99_ms=round(p99, 3),
        outbox_over_raw_throughput=round(ratio, 2), producers=PRODUCERS,
        payloads_from=payloads_from,
    )  # fmt: skip
    print(
        f"\nMQTT, {PRODUCERS} producers: outbox {RESULTS.get('outbox_rate', 0):.0f} msg/s "
        f"(p50 {RESULTS.get('outbox_p50', 0):.2f} ms, p99 {RESULTS.get('outbox_p99', 0):.2f} ms)"
        f" | raw paho, payloads from {payloads_from}, {raw_rate:.0f} msg/s"
        f" (p50 {p50:.2f} ms, p99 {p99:.2f} ms) | outbox/raw throughput {ratio:.2f}"
        f" | outbox from one producer {RESULTS.get('outbox_one_rate', 0):.0f} msg/s"
    )
