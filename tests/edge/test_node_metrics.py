"""The node's Prometheus endpoint, scraped over HTTP as a monitoring server would."""

from __future__ import annotations

import urllib.request

from edge.metrics import serve_metrics
from edge.node import EdgeNode
from edge.sinks import MemorySink
from edge.testing import ParkedCarDetector, good_frames, make_site
from mqtt.broker import free_port


def test_metrics_report_cameras_episodes_and_the_outbox(tmp_path):
    node = EdgeNode(
        make_site(tmp_path),
        ParkedCarDetector(),
        MemorySink(),
        source_factory=lambda camera: good_frames() if camera.id == "good" else [],
    )
    node.run()
    port = free_port()
    serve_metrics(node, port, outbox_depth=lambda: 7)
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10).read().decode()
    lines = set(text.splitlines())
    assert 'roadguard_episode_transitions_total{camera="good",transition="warned"} 2.0' in lines
    assert 'roadguard_episode_transitions_total{camera="good",transition="violation"} 1.0' in lines
    assert 'roadguard_camera_errors_total{camera="bad"} 0.0' in lines
    assert "roadguard_outbox_depth 7.0" in lines
    assert any(line.startswith('roadguard_detector_latency_ms{camera="good"}') for line in lines)
