"""Exactly once, whatever fails in between (design.md, "Delivery"): each test stages one
fault on the production path (secured Mosquitto, `central serve` on the shared subscription,
a node process with its outbox), asserts the fault really left work undone, and ends with
every episode and picture at the centre once and the node's outbox empty."""

from __future__ import annotations

import signal
import threading
from pathlib import Path

import pytest

from mqtt.testing import LinkCut
from roadguard.testing.delivery import DeliveryRig, NodeProcess, wait_for

NODE = "gate-a"


@pytest.fixture
def rig(tmp_path: Path):
    rig = DeliveryRig(tmp_path).start()
    yield rig
    rig.close()


def test_broker_restarted_while_the_centre_is_down(rig: DeliveryRig) -> None:
    """Mosquitto 2.0 does not restore an offline client's shared subscription after a
    restart: what a node sends then is acknowledged by the broker and given to nobody."""
    rig.centre.stop()
    rig.broker.restart()
    node = rig.node(NODE, 50).start()
    wait_for(lambda: node.produced == 50 and node.unsent == 0, 60, "the broker's PUBACKs")
    assert rig.centre.episodes(NODE) == 0  # the centre has none: the backlog is real
    rig.centre.start()
    node.finish()
    rig.assert_exactly_once(node)


def test_broker_killed_mid_publish(rig: DeliveryRig) -> None:
    node = rig.node(NODE, 900, interval=0.01).start()  # ~9 s of publishing to kill it in
    wait_for(lambda: rig.centre.episodes(NODE) >= 100, 60, "the first 100 episodes")
    rig.broker.kill()  # SIGKILL: no chance to save what it acknowledged since its autosave
    assert node.produced < 900, "killed too late: the node had finished publishing"
    assert rig.centre.episodes(NODE) < 900
    rig.broker.start()
    node.finish()
    rig.assert_exactly_once(node)


def test_centre_killed_mid_backlog(rig: DeliveryRig) -> None:
    rig.centre.signal(signal.SIGSTOP)  # frozen with its connection open: the broker keeps
    node = rig.node(NODE, 600, interval=0).start()  # handing it messages it cannot commit
    wait_for(lambda: node.produced == 600 and node.unsent == 0, 60, "the broker's PUBACKs")
    assert rig.centre.episodes(NODE) == 0  # the whole backlog is in the broker or in flight
    rig.centre.kill()  # SIGKILL (a stopped process dies too)
    rig.centre.start()
    node.finish()
    rig.assert_exactly_once(node)


def test_node_killed_mid_publish(rig: DeliveryRig) -> None:
    node = rig.node(NODE, 400, interval=0.02).start()  # ~8 s of publishing to kill it in
    wait_for(lambda: rig.centre.episodes(NODE) >= 50, 60, "the first 50 episodes")
    node.process.send_signal(signal.SIGSTOP)
    assert node.produced < 400 and node.depth > 0  # unsent and unconfirmed work on disk
    node.kill()
    again = rig.node(NODE, 400).start()  # the same outbox: resumes where it committed
    again.finish()
    rig.assert_exactly_once(again)


def test_link_cut_for_a_minute(rig: DeliveryRig) -> None:
    link = LinkCut(rig.broker.port)
    try:
        node = NodeProcess(rig.workdir, link.port, NODE, 300, interval=0.02, keepalive=5)
        node.start()
        wait_for(lambda: rig.centre.episodes(NODE) >= 50, 60, "the first 50 episodes")
        link.cut()
        # the broker gives up on the silent node after 1.5 keep-alives and fires its will
        wait_for(
            lambda: (
                rig.centre.scalar(
                    "SELECT count(*) FROM nodes WHERE node_id = :n AND NOT online", n=NODE
                )
                == 1
            ),
            30,
            "the node's last will",
        )
        threading.Event().wait(60)  # the fault itself: a minute with the uplink down
        during = rig.centre.episodes(NODE)
        assert node.produced == 300 and during < 300  # produced into the outbox meanwhile
        assert node.depth >= 300 - during
        link.restore()
        node.finish()
        rig.assert_exactly_once(node)
    finally:
        link.close()
