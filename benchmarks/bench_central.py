"""Ingest throughput into the centre's database: episodes per second through
`ingest_episode`, directly (no broker), on SQLite (WAL) and on a throwaway PostgreSQL.

Each round ingests a fresh batch of whole episodes (stopped, warned, violation) so every
message is new work, not a duplicate. The via-broker comparison lives with the MQTT
benchmarks."""

from __future__ import annotations

import contextlib
import itertools
import uuid

import pytest

from central.testing.centres import open_centre
from central.testing.records import episode_payload

BATCH = 50  # episodes per round; 3 messages each


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_ingest_episodes(benchmark, kind, tmp_path):
    from central.episodes.ingest import ingest_episode

    rounds = itertools.count()
    with open_centre(kind, tmp_path) as centre:

        def batch() -> list:
            tag = f"{next(rounds)}-{uuid.uuid4().hex[:6]}"
            messages = []
            for n in range(BATCH):
                episode_id = f"bench-{tag}-{n}"
                messages.append(episode_payload("stopped", episode_id))
                messages.append(episode_payload("warned", episode_id, warnings=1))
                messages.append(episode_payload("violation", episode_id, warnings=1))
            return [(messages,), {}]

        def ingest(messages: list) -> None:
            for message in messages:
                ingest_episode(centre, message)

        benchmark.pedantic(ingest, setup=batch, rounds=5, iterations=1)
        messages_per_s = 3 * BATCH / benchmark.stats.stats.mean
        benchmark.extra_info["messages_per_s"] = round(messages_per_s)
        benchmark.extra_info["episodes_per_s"] = round(messages_per_s / 3)


# -- through the real broker, against the broker's raw rate in the same run -----------------
VIA_BROKER = 1000  # episode messages per round (a few batches: more than the pipeline's fill)
VIA_BROKER_RATES: dict[str, float] = {}


def _publisher(port: int):
    import paho.mqtt.client as paho
    from paho.mqtt.enums import CallbackAPIVersion

    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(200)
    client.max_queued_messages_set(0)
    client.connect("127.0.0.1", port)
    client.loop_start()
    return client


def _payloads(offset: int) -> list[tuple[str, str]]:
    from mqtt import topics
    from mqtt.payloads import Episode
    from mqtt.testing import numbered_record

    node = "bench-node"
    return [
        (
            topics.episode_topic(node, "cam-1"),
            Episode.from_record(numbered_record(offset + i, node), seq=offset + i).to_json(),
        )
        for i in range(VIA_BROKER)
    ]


@pytest.mark.benchmark(group="central-via-broker")
@pytest.mark.parametrize("path", ["raw-subscriber", "central-ingest-sqlite", "central-ingest-pg"])
def test_episodes_through_the_broker(benchmark, path, tmp_path):
    """Episodes/s from one publisher through Mosquitto, into a bare subscriber (the broker's
    raw rate) or into the centre's database through its consumer."""
    from central.config import MqttConfig as CentralMqtt
    from central.episodes.consumer import EpisodeConsumer
    from mqtt.broker import Broker

    rounds = itertools.count()
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(Broker(tmp_path / "broker"))
        publisher = _publisher(broker.port)
        if path == "raw-subscriber":
            from benchmarks.bench_mqtt import Arrivals

            arrivals = Arrivals(broker.port)
            done = lambda n: arrivals.wait(n)  # noqa: E731
            stop = arrivals.stop
        else:
            kind = "sqlite" if path.endswith("sqlite") else "postgresql"
            mqtt = CentralMqtt(host=broker.host, port=broker.port)
            centre = stack.enter_context(open_centre(kind, tmp_path, mqtt=mqtt))
            consumer = EpisodeConsumer(centre)
            consumer.start()
            assert consumer.subscribed.wait(10)
            done = lambda n: consumer.wait_until(lambda c: c["episode:applied"] >= n, 300)  # noqa: E731
            stop = consumer.stop
        total = 0

        def batch() -> tuple[tuple[list[tuple[str, str]]], dict]:
            return (_payloads(next(rounds) * VIA_BROKER),), {}

        def send(payloads: list[tuple[str, str]]) -> None:
            nonlocal total
            if path == "raw-subscriber":
                arrivals.reset()  # before publishing: the first arrivals come at once
            for topic, payload in payloads:
                publisher.publish(topic, payload, qos=1)
            total += len(payloads)
            if path == "raw-subscriber":
                done(len(payloads))
            else:
                assert done(total)

        try:
            benchmark.pedantic(send, setup=batch, rounds=3, iterations=1)
        finally:
            stop()
            publisher.disconnect()
            publisher.loop_stop()
    rate = VIA_BROKER_RATES[path] = VIA_BROKER / benchmark.stats.stats.mean
    benchmark.extra_info["episode_messages_per_s"] = round(rate)
    raw = VIA_BROKER_RATES.get("raw-subscriber")
    if raw and path != "raw-subscriber":
        benchmark.extra_info["over_raw_subscriber"] = round(rate / raw, 3)
        print(f"\n{path}: {rate:.0f} episode messages/s, {rate / raw:.2f}x the raw subscriber")
    else:
        print(f"\n{path}: {rate:.0f} episode messages/s")
