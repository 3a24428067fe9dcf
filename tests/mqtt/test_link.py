"""Delivery against a real Mosquitto (mqtt/broker.py starts one per test on a free port):
episodes and evidence arrive exactly once after dedupe by id, through a broker restart, a
kill -9 of the publishing process and a broker that is away for a while; the outbox ends
empty. All waits are on events with deadlines; nothing sleeps to synchronise."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from mqtt import topics
from mqtt.broker import Broker
from mqtt.client import NodeLink
from mqtt.config import MqttConfig
from mqtt.outbox import Outbox
from mqtt.payloads import Command, CommandAck, Episode, Evidence, Status
from mqtt.testing import Collector, command, evidence_bytes, numbered_record, write_evidence

NODE = "node-1"
ROOT = Path(__file__).resolve().parents[2]


def _link(broker: Broker, tmp_path: Path, node: str = NODE, **fields) -> NodeLink:
    config = MqttConfig(
        port=broker.port,
        outbox_path=tmp_path / f"outbox-{node}.sqlite",
        reconnect_min_s=0.05,
        reconnect_max_s=0.5,
        **fields,
    )
    return NodeLink(config, node, cameras=["cam-1"])


def _episode_indexes(collector: Collector) -> Counter[int]:
    return Counter(e.track_ids[0] for e in collector.of_type(Episode))


def _assert_exactly_once(collector: Collector, count: int, evidence_every: int) -> None:
    indexes = _episode_indexes(collector)
    assert sorted(indexes) == list(range(count)), "episodes missing"
    assert max(indexes.values()) == 1, "one episode sent under two different ids"
    evidence = collector.of_type(Evidence)
    expected = {f"ep-{i:06d}" for i in range(0, count, evidence_every)}
    assert sorted(e.episode_id for e in evidence) == sorted(expected)
    for item in collector.unique.values():
        if isinstance(item.payload, Evidence):
            index = int(item.payload.episode_id[3:])
            assert item.data == evidence_bytes(index)


def _publish(link: NodeLink, start: int, stop: int, every: int, pace: float = 0.0) -> None:
    for i in range(start, stop):
        if pace:
            time.sleep(pace)  # pacing the producer like a camera, not synchronisation
        if i % every == 0:
            root = link.outbox.path.parent / "evidence"
            link.publish_evidence("cam-1", root, write_evidence(root, i))
        link.publish_episode(numbered_record(i, NODE))


def test_broker_restart_mid_stream(broker: Broker, tmp_path: Path) -> None:
    collector = Collector(broker.port).start()
    link = _link(broker, tmp_path)
    link.start()
    assert link.wait_connected(10)
    count, every = 400, 10
    # the edge keeps producing (paced like frames) while the broker goes down and comes back
    producer = threading.Thread(target=_publish, args=(link, 0, count, every, 0.003))
    producer.start()
    assert collector.wait_for(lambda c: c.count(Episode) >= 40, 20)
    broker.restart()  # SIGTERM: Mosquitto saves its persistence, then starts again
    producer.join(60)
    assert collector.count(Episode) < count, "the stream ended before the restart"
    assert link.wait_drained(60), f"outbox still holds {link.outbox.depth}"
    assert collector.wait_for(lambda c: c.count(Episode) >= count, 60), _episode_indexes(collector)
    _assert_exactly_once(collector, count, every)
    assert collector.receiver.rejected_total == 0
    link.close()
    collector.stop()
    assert Outbox(tmp_path / f"outbox-{NODE}.sqlite").depth == 0


def test_broker_unreachable_then_back(broker: Broker, tmp_path: Path) -> None:
    collector = Collector(broker.port).start()
    broker.stop()
    link = _link(broker, tmp_path)
    link.start()  # the broker is down: the link keeps trying in the background
    count, every = 200, 20
    _publish(link, 0, count, every)
    assert not link.connected
    assert link.outbox.depth == count + count // every  # all waiting on disk
    broker.start()
    assert link.wait_connected(30)
    assert link.wait_drained(60)
    assert collector.wait_for(lambda c: c.count(Episode) >= count, 60)
    _assert_exactly_once(collector, count, every)
    link.close()
    collector.stop()


def test_publisher_killed_and_restarted(broker: Broker, tmp_path: Path) -> None:
    collector = Collector(
        broker.port, [topics.ALL_EPISODES, topics.ALL_EVIDENCE, topics.ALL_STATUS]
    )
    collector.start()
    outbox_path = tmp_path / "edge-outbox.sqlite"
    count, every = 400, 10
    cmd = [
        sys.executable, "-m", "mqtt.testing", "publish", "--port", str(broker.port),
        "--node", NODE, "--outbox", str(outbox_path), "--count", str(count),
        "--evidence-every", str(every),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    first = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert collector.wait_for(lambda c: c.count(Episode) >= count // 4, 60)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        first.kill()
    # the broker fires the last will: the node is offline, with the first run's counter
    assert collector.wait_for(
        lambda c: any(s.state == "offline" and s.restarts == 1 for s in c.of_type(Status)), 20
    )
    assert collector.count(Episode) < count, "killed too late to test anything"
    second = subprocess.run(cmd, env=env, capture_output=True, timeout=180, text=True)
    assert second.returncode == 0, second.stderr[-2000:]
    assert collector.wait_for(lambda c: c.count(Episode) >= count, 60)
    _assert_exactly_once(collector, count, every)
    assert any(s.state == "online" and s.restarts == 2 for s in collector.of_type(Status))
    collector.stop()
    assert Outbox(outbox_path).depth == 0


def test_commands_are_run_and_acknowledged(broker: Broker, tmp_path: Path) -> None:
    collector = Collector(broker.port, [topics.ALL_ACKS]).start()
    link = _link(broker, tmp_path)
    muted: list[Command] = []
    link.on_command("mute", lambda c: muted.append(c) or {"muted_min": c.args["minutes"]})
    link.on_command("announce-test", lambda c: 1 / 0)
    link.start()
    assert link.wait_connected(10)
    mute = command(NODE, "mute", minutes=5)
    sent = [mute, command(NODE, "announce-test"), command(NODE, "reload")]
    for cmd in sent:
        collector.client.publish(topics.command_topic(NODE, cmd.verb), cmd.to_json(), qos=1)
    collector.client.publish(topics.command_topic(NODE, "mute"), mute.to_json(), qos=1)  # again
    collector.client.publish(topics.command_topic(NODE, "mute"), b"{not json", qos=1)
    assert collector.wait_for(lambda c: c.count(CommandAck) >= 5, 20), collector.of_type(CommandAck)
    acks = collector.of_type(CommandAck)
    by_command = {(a.command_id, a.status) for a in acks}
    assert (mute.id, "ok") in by_command
    assert (sent[1].id, "error") in by_command
    assert (sent[2].id, "unsupported") in by_command
    assert (None, "rejected") in by_command
    assert len(muted) == 1, "a redelivered command ran twice"
    assert [a.result for a in acks if a.command_id == mute.id][0] == {"muted_min": 5}
    link.close()
    collector.stop()


def test_shared_subscription_splits_without_loss(broker: Broker, tmp_path: Path) -> None:
    workers = [
        Collector(broker.port, [topics.CENTRAL_EPISODES], client_id=f"central-{i}").start()
        for i in range(2)
    ]
    link = _link(broker, tmp_path)
    link.start()
    count = 200
    for i in range(count):
        link.publish_episode(numbered_record(i, NODE))
    assert link.wait_drained(30)
    assert workers[0].wait_for(lambda _: sum(w.count(Episode) for w in workers) >= count, 30)
    seen = Counter(i for w in workers for i in _episode_indexes(w).elements())
    assert sorted(seen) == list(range(count)) and max(seen.values()) == 1
    assert all(w.count(Episode) > 0 for w in workers), "the load was not shared"
    link.close()
    for w in workers:
        w.stop()


def test_acl_keeps_a_node_under_its_own_prefix(tmp_path: Path) -> None:
    accounts = {"node-a": "pw-a", "node-b": "pw-b", "central": "pw-c"}
    broker = Broker(tmp_path / "acl-broker", accounts=accounts).start()
    try:
        central = Collector(
            broker.port, [f"{topics.ROOT}/#"], username="central", password="pw-c"
        ).start()
        link = _link(broker, tmp_path, "node-a", username="node-a", password="pw-a")
        link.start()
        assert link.wait_connected(10)
        # node-a's own client, in order: a forged node-b episode, then its own episode
        forged = Episode.model_validate(
            {"schema": "roadguard.episode/1", "seq": 1, **numbered_record(7, "node-b").model_dump()}
        )
        link._client.publish(topics.episode_topic("node-b", "cam-1"), forged.to_json(), qos=1)
        link.publish_episode(numbered_record(8, "node-a"))
        assert central.wait_for(lambda c: c.count(Episode) >= 1, 20)
        assert link.wait_drained(10)
        # MQTT keeps one publisher's order: had the forged one passed, it would be here first
        assert [(e.node_id, e.track_ids) for e in central.of_type(Episode)] == [("node-a", [8])]
        # and node-a's status (its birth) is accepted under its own prefix
        assert central.wait_for(lambda c: any(s.node_id == "node-a" for s in c.of_type(Status)), 10)
        link.close()
        central.stop()
        # a wrong password does not get in at all
        intruder = _link(broker, tmp_path, "node-b", username="node-b", password="wrong")
        intruder.start()
        assert not intruder.wait_connected(1.0)
        intruder.close()
    finally:
        broker.kill()


def test_broker_keeps_the_queue_of_an_offline_centre_across_a_restart(
    broker: Broker, tmp_path: Path
) -> None:
    """What the broker config is for: persistence on, and `max_queued_messages` above the
    default 1000, which would silently drop most of this backlog."""
    Collector(broker.port, client_id="central-away").start().stop()  # session + subscription
    # no receipts awaited: this is about what the broker alone keeps
    link = _link(broker, tmp_path, await_receipts=False)
    link.start()
    count = 1500
    for i in range(count):
        link.publish_episode(numbered_record(i, NODE))
    assert link.wait_drained(60)  # all PUBACKed: now only the broker holds them
    link.close()
    broker.restart()
    collector = Collector(broker.port, client_id="central-away").start()
    assert collector.wait_for(lambda c: c.count(Episode) >= count, 30), collector.count(Episode)
    assert sorted(_episode_indexes(collector)) == list(range(count))
    collector.stop()


def test_episode_sink_sends_each_evidence_file_once(broker: Broker, tmp_path: Path) -> None:
    from mqtt.client import MqttEpisodeSink

    collector = Collector(broker.port).start()
    root = tmp_path / "evidence"
    (root / "ep-000001").mkdir(parents=True)
    files = {f"ep-000001/warning{n}-frame.jpg": evidence_bytes(n) for n in (1, 2)}
    for reference, data in files.items():
        (root / reference).write_bytes(data)
    link = _link(broker, tmp_path)
    link.start()
    sink = MqttEpisodeSink(link, evidence_root=root)
    first = numbered_record(1, NODE).model_copy(
        update={"event": "warned", "evidence": list(files)[:1]}
    )
    second = first.model_copy(update={"evidence": list(files)})
    sink.publish(first)
    sink.publish(second)
    # off the contract (built without validation, as a bug would): counted, not raised
    sink.publish(second.model_copy(update={"event": "teleported"}))
    assert sink.invalid == 1
    assert collector.wait_for(lambda c: c.count(Episode) >= 2 and c.count(Evidence) >= 2, 20)
    assert link.wait_drained(10)
    got = {i.payload.reference: i.data for i in collector.unique.values() if i.data}
    assert got == files
    assert collector.duplicates == 0 and collector.count(Evidence) == 2
    sink.close()
    collector.stop()


def test_episode_sink_forgets_an_episode_once_its_ladder_is_done(
    broker: Broker, tmp_path: Path
) -> None:
    """A violation sends no record when its vehicle leaves: the sink must forget its pictures
    at the violation, or a node running for months keeps every one of them in memory."""
    from mqtt.client import MqttEpisodeSink

    collector = Collector(broker.port).start()
    root = tmp_path / "evidence"
    link = _link(broker, tmp_path, await_receipts=False)
    link.start()
    sink = MqttEpisodeSink(link, evidence_root=root)
    episodes = 20
    for n in range(episodes):
        (root / f"ep-{n:06d}").mkdir(parents=True)
        refs = [f"ep-{n:06d}/warning1-frame.jpg", f"ep-{n:06d}/violation-frame.jpg"]
        for k, reference in enumerate(refs):
            (root / reference).write_bytes(evidence_bytes(2 * n + k))
        warned = numbered_record(n, NODE).model_copy(update={"event": "warned"})
        sink.publish(warned.model_copy(update={"evidence": refs[:1]}))
        sink.publish(warned.model_copy(update={"event": "violation", "evidence": refs}))
    assert collector.wait_for(lambda c: c.count(Evidence) >= 2 * episodes, 20)
    assert collector.count(Evidence) == 2 * episodes  # each picture once
    assert sink.remembered == 0
    sink.close()
    collector.stop()


def test_a_picture_waiting_for_the_link_is_kept_once(broker: Broker, tmp_path: Path) -> None:
    """The outbox refers to the evidence file; it does not hold a second copy of it."""
    broker.stop()
    root = tmp_path / "evidence"
    link = _link(broker, tmp_path)
    link.start()
    references = [write_evidence(root, i) for i in range(3)]
    for reference in references:
        link.publish_evidence("cam-1", root, reference)
    link.close()
    outbox_files = b"".join(f.read_bytes() for f in tmp_path.glob(f"outbox-{NODE}.sqlite*"))
    for i in range(3):
        assert evidence_bytes(i)[4:68] not in outbox_files, "the picture was copied"
    assert Outbox(tmp_path / f"outbox-{NODE}.sqlite").size_bytes < len(evidence_bytes(0))

    broker.start()
    collector = Collector(broker.port).start()
    link = _link(broker, tmp_path)
    link.start()
    assert link.wait_drained(30)
    got = {item.payload.reference: item.data for item in collector.unique.values() if item.data}
    assert got == {reference: (root / reference).read_bytes() for reference in references}
    link.close()
    collector.stop()


def test_a_picture_gone_before_sending_is_a_dead_letter(broker: Broker, tmp_path: Path) -> None:
    """Deleted by hand before it could be sent: kept aside with the reason, the rest sent."""
    root = tmp_path / "evidence"
    link = _link(broker, tmp_path)  # queued before the link starts, as during an outage
    gone, kept = write_evidence(root, 1), write_evidence(root, 2)
    link.publish_evidence("cam-1", root, gone)
    link.publish_evidence("cam-1", root, kept)
    link.publish_episode(numbered_record(1, NODE))
    (root / gone).unlink()
    collector = Collector(broker.port).start()
    link.start()
    assert link.wait_drained(30)
    assert collector.wait_for(lambda c: c.count(Episode) >= 1 and c.count(Evidence) >= 1, 20)
    assert [evidence.reference for evidence in collector.of_type(Evidence)] == [kept]
    (dead,) = link.outbox.dead_letters()
    assert dead[0] == "evidence" and gone.split("/")[0] in dead[1]
    assert "evidence file unreadable" in dead[2] and "No such file" in dead[2]
    link.close()
    collector.stop()


def test_a_clean_stop_reads_as_a_clean_stop(broker: Broker, tmp_path: Path, caplog) -> None:
    """Closing the link says goodbye; it is not a lost link (WARNING) nor a paho ERROR."""
    import logging

    link = _link(broker, tmp_path)
    link.start()
    assert link.wait_connected(10)
    with caplog.at_level(logging.INFO):
        link.close()
    loud = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert loud == [], [r.getMessage() for r in loud]
    assert any("disconnected from broker" in r.getMessage() for r in caplog.records)
