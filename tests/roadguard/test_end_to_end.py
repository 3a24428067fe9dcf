"""The whole chain on real pieces: the scripted scene → the edge node (real detector, tracker,
episodes, evidence) → its outbox → Mosquitto → the centre's shared-subscription consumer →
the database → the officer's review pages. Then the workflow: an officer tickets the demo's
violation (and the audit says so); a second violation nobody reviews passes its deadline on
the centre's fake clock and lands in the supervisor's queue."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import select

from central.config import MqttConfig as CentralMqtt
from central.episodes.consumer import EpisodeConsumer
from central.episodes.workflow import escalate_overdue
from central.models import AuditEntry, Episode
from central.testing.centres import add_users, open_centre
from central.testing.clients import login
from central.web import create_app
from edge.cli import DEMO_CONFIG
from edge.config_loader import load_site_config
from edge.node import EdgeNode
from edge.sinks import JsonLinesSink
from edge.uplink import TeeSink, open_link
from mqtt.broker import Broker
from mqtt.config import MqttConfig


def run_edge(detector, tmp_path, broker, node_id: str, scene: str) -> list[dict]:
    """One edge node on `scene`, publishing through its outbox; returns its episode log."""
    site = load_site_config(DEMO_CONFIG)
    camera = site.cameras[0].model_copy(update={"source": f"scene:{scene}"})
    out = tmp_path / node_id
    site = site.model_copy(
        update={
            "node_id": node_id,
            "cameras": [camera],
            "announcer": site.announcer.model_copy(update={"enabled": False}),
            "output": site.output.model_copy(
                update={
                    "episode_log": out / "episodes.jsonl",
                    "evidence_dir": out / "evidence",
                    "state_file": out / "state.db",
                }
            ),
            "mqtt": MqttConfig(host=broker.host, port=broker.port, outbox_path=out / "outbox.db"),
        }
    )
    link, uplink = open_link(site)
    sink = TeeSink(JsonLinesSink(site.output.episode_log), uplink)
    EdgeNode(site, detector, sink).run()
    assert link.wait_drained(30), "the outbox did not empty"
    assert link.outbox.depth == 0
    sink.close()
    return [json.loads(line) for line in site.output.episode_log.read_text().splitlines()]


@pytest.mark.needs_model
@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_scene_to_review_page_ticket_and_escalation(kind, detector, tmp_path):
    with (
        Broker(tmp_path / "broker") as broker,
        open_centre(kind, tmp_path, mqtt=CentralMqtt(host=broker.host, port=broker.port)) as centre,
    ):
        add_users(centre)
        consumer = EpisodeConsumer(centre)
        consumer.start()
        try:
            assert consumer.subscribed.wait(10)
            demo = run_edge(detector, tmp_path, broker, "school-node", "demo")
            assert consumer.wait_until(lambda c: c["episode:applied"] == len(demo), 30)
            evidence_files = {ref for r in demo for ref in r["evidence"]}
            assert consumer.wait_until(lambda c: c["evidence:applied"] == len(evidence_files), 30)
        finally:
            consumer.stop()
        violation = next(r["episode_id"] for r in demo if r["event"] == "violation")
        dissuaded = next(r["episode_id"] for r in demo if r["event"] == "dissuaded")

        app = create_app(centre, run_scheduler=False)
        officer, token = login(app, "olga")
        queue = officer.get("/queue").text
        assert violation in queue and dissuaded not in queue

        page = officer.get(f"/episodes/{violation}")
        assert page.status_code == 200 and "京A6K327" in page.text
        pictures = set(re.findall(rf"/evidence/{violation}/[\w.-]+\.jpg", page.text))
        assert len(pictures) == 6  # frame + crop at warning 1, warning 2 and the violation
        for picture in pictures:
            image = officer.get(picture)
            assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
            assert image.content[:2] == b"\xff\xd8"

        ticketed = officer.post(f"/episodes/{violation}/ticket", data={"csrf_token": token})
        assert ticketed.status_code in (200, 303)
        with centre.db.session() as session:
            episode = session.get(Episode, violation)
            assert episode.state == "ticketed" and episode.decided_by == "olga"
            audit = session.scalars(
                select(AuditEntry).where(AuditEntry.episode_id == violation)
            ).all()
            assert any(a.actor == "olga" and a.to_state == "ticketed" for a in audit)
            assert session.get(Episode, dissuaded).state == "dissuaded"

        # A second node's violation that nobody reviews.
        consumer = EpisodeConsumer(centre)
        consumer.start()
        try:
            assert consumer.subscribed.wait(10)
            other = run_edge(detector, tmp_path, broker, "market-node", "bus_occlusion")
            assert consumer.wait_until(lambda c: c["episode:applied"] == len(other), 30)
        finally:
            consumer.stop()
        overdue = next(r["episode_id"] for r in other if r["event"] == "violation")
        centre.clock.advance(seconds=centre.settings.review_window_s + 1)
        with centre.db.session() as session:
            assert escalate_overdue(session, centre.clock.now()) == [overdue]

        supervisor, _ = login(app, "sam")
        assert overdue in supervisor.get("/escalated").text
        assert officer.get("/escalated").status_code == 403
