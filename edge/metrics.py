"""A Prometheus endpoint on the node: what a city's monitoring scrapes from hundreds of boxes.

The figures are read from the running node at scrape time (its health report and per-camera
counters), so nothing in the frame loop has to remember to update a metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector, CollectorRegistry


class NodeCollector(Collector):
    def __init__(self, node: Any, outbox_depth: Callable[[], int] | None = None) -> None:
        self.node = node
        self.outbox_depth = outbox_depth

    def collect(self) -> Iterator[Any]:
        health = self.node.health()
        fps = GaugeMetricFamily(
            "roadguard_camera_fps", "Frames analysed per second", labels=["camera"]
        )
        latency = GaugeMetricFamily(
            "roadguard_detector_latency_ms", "Mean detector time per call", labels=["camera"]
        )
        errors = CounterMetricFamily(
            "roadguard_camera_errors", "Bad frames and source failures", labels=["camera"]
        )
        restarts = CounterMetricFamily(
            "roadguard_camera_restarts", "Sources reopened by the supervisor", labels=["camera"]
        )
        reconnects = CounterMetricFamily(
            "roadguard_camera_reconnects", "Live streams lost and reconnected", labels=["camera"]
        )
        states = GaugeMetricFamily(
            "roadguard_camera_state",
            "1 for the state each camera's source is in (live, lost, failed...)",
            labels=["camera", "state"],
        )
        for camera in health["cameras"]:
            cid = camera["camera_id"]
            fps.add_metric([cid], camera["fps"] or 0.0)
            latency.add_metric([cid], camera["detector_latency_ms"] or 0.0)
            errors.add_metric([cid], camera["errors"])
            restarts.add_metric([cid], camera["restarts"])
            reconnects.add_metric([cid], camera["reconnects"])
            states.add_metric([cid, camera["state"]], 1.0)
        yield from (fps, latency, errors, restarts, reconnects, states)

        episodes = CounterMetricFamily(
            "roadguard_episode_transitions",
            "Episode transitions (stopped, warned, dissuaded, cleared, expired, violation)",
            labels=["camera", "transition"],
        )
        for camera_id, pipeline in self.node.pipelines.items():
            for transition, count in pipeline.stats.transitions.items():
                episodes.add_metric([camera_id, transition], count)
        yield episodes

        announcements = CounterMetricFamily(
            "roadguard_announcements", "Voice warnings by outcome", labels=["status"]
        )
        for status, count in health.get("announcements", {}).items():
            announcements.add_metric([status], count)
        yield announcements
        yield CounterMetricFamily(
            "roadguard_evidence_failures",
            "Evidence pictures that could not be saved",
            value=health["evidence_failures"],
        )
        if self.outbox_depth is not None:
            yield GaugeMetricFamily(
                "roadguard_outbox_depth", "Messages not yet acknowledged", value=self.outbox_depth()
            )


def serve_metrics(
    node: Any, port: int, address: str = "127.0.0.1", outbox_depth: Callable[[], int] | None = None
) -> CollectorRegistry:
    """Start the endpoint on `address:port` (a thread of prometheus-client's own)."""
    registry = CollectorRegistry()
    registry.register(NodeCollector(node, outbox_depth))
    start_http_server(port, addr=address, registry=registry)
    return registry
