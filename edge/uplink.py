"""The node's link to the centre: episodes and evidence through the MQTT outbox, health on a
timer, and the centre's commands (mute, a speaker test, reload).

The local JSON-lines log is kept as well: on a box with a dead uplink it is what a visiting
technician reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.config import SiteConfig
from edge.sinks import EpisodeSink, close_if_closable
from mqtt.client import MqttEpisodeSink, NodeLink
from mqtt.payloads import Command, EpisodeRecord

log = logging.getLogger(__name__)

MAX_MUTE_MINUTES = 24 * 60


class TeeSink:
    """One transition, several destinations (the local log and the MQTT outbox)."""

    def __init__(self, *sinks: EpisodeSink) -> None:
        self.sinks = sinks

    def publish(self, record: EpisodeRecord) -> None:
        for sink in self.sinks:
            sink.publish(record)

    def close(self) -> None:
        for sink in self.sinks:
            close_if_closable(sink)


def open_link(site: SiteConfig) -> tuple[NodeLink, MqttEpisodeSink]:
    """Connect (in the background: a broker that is down now is retried) and return the link
    with the sink that feeds it."""
    assert site.mqtt is not None
    link = NodeLink(site.mqtt, site.node_id, cameras=[c.id for c in site.cameras])
    link.start()
    return link, MqttEpisodeSink(link, evidence_root=site.output.evidence_dir)


def command_handlers(
    node: Any, reload: Callable[[], dict[str, Any]] | None = None
) -> dict[str, Callable[[Command], dict[str, Any] | None]]:
    """What each verb of `roadguard/v1/<node>/cmd/<verb>` does on this node. An exception
    becomes an error ack with its message, so the centre sees why a command failed."""

    def mute(command: Command) -> dict[str, Any]:
        minutes = command.args.get("minutes")
        if not isinstance(minutes, int | float) or not 0 <= minutes <= MAX_MUTE_MINUTES:
            raise ValueError(f"mute needs 'minutes' between 0 and {MAX_MUTE_MINUTES}")
        if node.announcer is None:
            raise RuntimeError("this node has no voice output")
        node.announcer.mute(minutes * 60)
        log.warning("announcements muted for %.0f min by %s", minutes, command.issued_by)
        return {"muted_minutes": minutes}

    def announce_test(command: Command) -> dict[str, Any]:
        if node.announcer is None:
            raise RuntimeError("this node has no voice output")
        text = command.args.get("text")
        if text is not None and (not isinstance(text, str) or len(text) > 500):
            raise ValueError("'text' must be a string of at most 500 characters")
        result = node.announcer.speak_test(text)
        if result.status != "played":
            raise RuntimeError(f"speaker test {result.status}: {'; '.join(result.errors)}")
        return {"status": result.status, "text": result.text, "clip": result.clip}

    def reload_config(command: Command) -> dict[str, Any]:
        if reload is None:
            raise RuntimeError("this node was not started from a config file")
        return reload()

    return {"mute": mute, "announce-test": announce_test, "reload": reload_config}


def attach_commands(link: NodeLink, node: Any, config_path: Path | None = None) -> None:
    reload = None
    if config_path is not None and hasattr(node, "reload_from"):
        reload = lambda: node.reload_from(config_path)  # noqa: E731
    for verb, handler in command_handlers(node, reload).items():
        link.on_command(verb, handler)
