"""Urgent-report alerts through a real Mosquitto: a control-room client subscribed to
`roadguard/v1/central/alerts/#` gets the `new` alert when a warden files an urgent report,
and the `escalated` alert when nobody acknowledges it before the (fake-clock) deadline."""

from __future__ import annotations

import json
import queue

import paho.mqtt.client as paho
from fastapi.testclient import TestClient
from paho.mqtt.enums import CallbackAPIVersion

from central.config import MqttConfig as CentralMqtt
from central.reports.categories import ReportsConfig
from central.scheduler import DeadlineScheduler
from central.testing.centres import add_report_users, api_key_for, open_centre
from central.web import create_app


def _subscriber(broker, topic: str) -> tuple[paho.Client, queue.Queue]:
    received: queue.Queue = queue.Queue()
    subscribed = queue.Queue()
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.on_connect = lambda c, *_a: c.subscribe(topic, qos=1)
    client.on_subscribe = lambda *_a: subscribed.put(True)
    client.on_message = lambda _c, _u, m: received.put((m.topic, json.loads(m.payload)))
    client.connect(broker.host, broker.port)
    client.loop_start()
    assert subscribed.get(timeout=10)
    return client, received


def test_urgent_report_alerts_go_out_through_mosquitto(broker, tmp_path):
    settings = {
        "mqtt": CentralMqtt(host=broker.host, port=broker.port),
        "reports": ReportsConfig(mqtt_alerts=True),
    }
    with open_centre("sqlite", tmp_path, **settings) as centre:
        add_report_users(centre)
        key = api_key_for(centre, "walt")
        listener, received = _subscriber(broker, "roadguard/v1/central/alerts/#")
        try:
            with TestClient(create_app(centre, run_scheduler=False)) as client:
                assert centre.alerts.connected.wait(10)
                response = client.post(
                    "/open311/v2/requests.json",
                    headers={"Authorization": f"Bearer {key}"},
                    data={
                        "service_code": "drunk_driving",
                        "attribute[vehicle]": "white pickup",
                        "attribute[behaviour]": "swerving",
                        "lat": "31.09",
                        "long": "121.24",
                    },
                )
                assert response.status_code == 201
                rid = response.json()[0]["service_request_id"]
                topic, alert = received.get(timeout=10)
                assert topic == "roadguard/v1/central/alerts/north"
                assert alert["event"] == "new" and alert["seq"] == 1
                assert alert["report"]["service_request_id"] == rid
                assert alert["report"]["service_code"] == "drunk_driving"
                assert alert["text"] == {  # a control-room screen shows it as it is
                    "zh_CN": f"紧急巡查上报 {rid}：疑似酒驾，地点：31.09000, 121.24000。"
                    "请立即确认。",
                    "en": f"Urgent field report {rid}: Suspected drunk driving, at 31.09000, "
                    "121.24000. Acknowledge it now.",
                }

                centre.clock.advance(seconds=181)
                DeadlineScheduler(centre).tick()
                topic, alert = received.get(timeout=10)
                assert topic == "roadguard/v1/central/alerts/north"
                assert (alert["event"], alert["seq"]) == ("escalated", 2)
                assert alert["report"]["extended_attributes"]["escalated_to"] == "supervisor"
                assert alert["text"]["zh_CN"].startswith(
                    f"紧急巡查上报 {rid} 未按时确认，已升级至主管："
                )
        finally:
            listener.disconnect()
            listener.loop_stop()
