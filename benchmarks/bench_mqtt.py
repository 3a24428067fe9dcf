"""What the durable outbox costs, against raw paho, on the same Mosquitto in the same run.

- `outbox-throughput`: N episode payloads through `NodeLink` (SQLite insert with fsync,
  dispatcher, QoS 1, PUBACK deletes) until a subscriber has all of them, published by
  `PRODUCERS` threads at once (a node's cameras and evidence uploads publish concurrently;
  their rows share fsyncs: the outbox's group commit). Each `publish_episode` still returns
  only once its row is on disk. No centre answers here, so the link does not wait for
  receipts (`await_receipts=False`): rows leave on the broker's PUBACK.
- `outbox-one-producer`: the same from one thread: one fsync per message, for reference.
- `raw-paho-throughput`: the same N payloads with `paho.Client.publish(qos=1)` straight from
  memory, from as many threads, same in-flight window, same subscriber.
- Latency (publish call -> subscriber callback) at a paced 200 msg/s for both, reported as
  p50/p99 in `extra_info`, with the throughput ratio raw/outbox.

Run with `make bench` or `.venv/bin/pytest benchmarks/bench_mqtt.py`.
"""

from __future__ import annotations

import json
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
        now = time.perf_counter()
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


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with Broker(tmp_path_factory.mktemp("bench-broker")) as running:
        yield running


@pytest.fixture(scope="module")
def arrivals(broker):
    sub = Arrivals(broker.port)
    yield sub
    sub.stop()


def _records(count: int) -> list[EpisodeRecord]:
    return [numbered_record(i, NODE) for i in range(count)]


def _paced(send: Callable[[int], str], count: int, arrivals: Arrivals) -> tuple[float, float]:
    arrivals.reset()
    sent: dict[str, float] = {}
    start = time.perf_counter()
    for i in range(count):
        delay = start + i / RATE - time.perf_counter()
        if delay > 0:
            time.sleep(delay)  # pacing the offered load
        now = time.perf_counter()
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
def test_raw_paho_throughput(benchmark, broker, arrivals) -> None:
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="raw", protocol=paho.MQTTv5)
    client.max_inflight_messages_set(INFLIGHT)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    topic = topics.episode_topic(NODE, "cam-1")
    payloads = [Episode.from_record(r, seq=i).to_json() for i, r in enumerate(_records(N))]

    def run() -> None:
        arrivals.reset()
        _concurrently(lambda i: client.publish(topic, payloads[i], qos=1), N, PRODUCERS)
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
    )  # fmt: skip
    print(
        f"\nMQTT, {PRODUCERS} producers: outbox {RESULTS.get('outbox_rate', 0):.0f} msg/s "
        f"(p50 {RESULTS.get('outbox_p50', 0):.2f} ms, p99 {RESULTS.get('outbox_p99', 0):.2f} ms)"
        f" | raw paho {raw_rate:.0f} msg/s (p50 {p50:.2f} ms, p99 {p99:.2f} ms)"
        f" | outbox/raw throughput {ratio:.2f}"
        f" | outbox from one producer {RESULTS.get('outbox_one_rate', 0):.0f} msg/s"
    )
