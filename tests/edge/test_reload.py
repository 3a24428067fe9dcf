"""A config reload (SIGHUP or the centre's cmd/reload) applies a valid new file without a
restart and without re-warning anybody, and refuses an invalid one while the old config
keeps running."""

from __future__ import annotations

import itertools
import threading

import pytest

from cameras.frames import Frame
from edge.config_loader import load_site_config
from edge.node import EdgeNode
from edge.testing import ParkedCarDetector, frame_with_car
from mqtt.payloads import EpisodeRecord

EPOCH = 1_795_000_000.0
CONFIG = """\
node_id: reload-node
ladder: {{grace_s: 4, repeat_s: {repeat}, final_s: 4}}
announcer: {{enabled: false}}
output: {{evidence_dir: {tmp}/evidence, state_file: {tmp}/state.db, episode_log: {tmp}/log}}
cameras:
  - id: cam1
    source: rtsp://camera.invalid/stream
    zones: [{{id: gate, polygon: [[100, 300], [800, 300], [800, 450], [100, 450]]}}]
"""


class EndlessCar:
    """A live camera looking at a parked car; frame numbers go on across reopenings."""

    counter = itertools.count()

    def __init__(self) -> None:
        self.closed = threading.Event()

    def __iter__(self):
        while not self.closed.is_set():
            i = next(self.counter)
            yield Frame("cam1", i, EPOCH + i / 5, frame_with_car(i).image)

    def close(self) -> None:
        self.closed.set()


class PausingSink:
    """Records transitions; holds the camera right after warning 1 until released."""

    def __init__(self) -> None:
        self.records: list[EpisodeRecord] = []
        self.warned, self.resume, self.violation = (threading.Event() for _ in range(3))

    def publish(self, record: EpisodeRecord) -> None:
        self.records.append(record)
        if record.event == "warned" and record.warning == 1:
            self.warned.set()
            assert self.resume.wait(10)
        if record.event == "violation":
            self.violation.set()


def test_reload_refuses_a_bad_file_and_applies_a_good_one_mid_episode(tmp_path):
    path = tmp_path / "site.yaml"
    path.write_text(CONFIG.format(repeat=4, tmp=tmp_path))
    sink = PausingSink()
    opened = []

    def sources(camera):
        opened.append(EndlessCar())
        return opened[-1]

    node = EdgeNode(load_site_config(path), ParkedCarDetector(), sink, source_factory=sources)
    runner = threading.Thread(target=node.run)
    runner.start()
    try:
        assert sink.warned.wait(10)

        path.write_text(CONFIG.format(repeat=4, tmp=tmp_path).replace("grace_s: 4", "grace: 4"))
        with pytest.raises(ValueError, match="(?s)refused.*:2: ladder.grace: Extra inputs"):
            node.reload_from(path)
        assert node.site.ladder.repeat_s == 4 and not opened[0].closed.is_set()

        path.write_text(CONFIG.format(repeat=6, tmp=tmp_path))
        reload = threading.Thread(target=node.reload_from, args=(path,))
        reload.start()
        assert node._halt.wait(10)  # the reload is stopping the cameras
        sink.resume.set()
        reload.join(10)
        assert node.site.ladder.repeat_s == 6
        assert sink.violation.wait(10)
        assert len(opened) == 2  # the camera was reopened under the new config
    finally:
        sink.resume.set()
        node.shutdown()
        runner.join(10)
    events = [(r.event, r.warning) for r in sink.records]
    assert events[:4] == [("stopped", None), ("warned", 1), ("warned", 2), ("violation", None)]
    assert len({r.episode_id for r in sink.records[:4]}) == 1
    # The episode carried its own ladder across the reload; warning 2 came 4 s after 1.
    first, second = sink.records[1].time, sink.records[2].time
    assert second - first == pytest.approx(4, abs=0.5)
