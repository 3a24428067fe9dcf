"""The node on real footage through real servers: `vtest.avi` (PETS 2009, from Debian's
opencv-doc) as a file, over RTSP from GStreamer's RTSP server, and as MJPEG over HTTP.
Nothing is faked below OpenCV: the node opens the URL the way a site config would.

The site: a zone around the van parked at the top right for the whole clip, and zones on
the paths where only people walk. The van is one violation; the paths give nothing."""

from __future__ import annotations

import select
import signal
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import cv2
import pytest

from edge.config_loader import parse_site_config
from edge.node import EdgeNode
from edge.sinks import MemorySink
from mqtt.broker import free_port
from mqtt.payloads import EpisodeRecord

DEBIAN_PYTHON = "/usr/bin/python3"  # has PyGObject and GStreamer's RTSP server bindings

SITE = """\
node_id: campus
ladder: {{grace_s: 5, repeat_s: 5, final_s: 5, cooldown_s: 300}}
announcer: {{enabled: false}}
output: {{evidence_dir: {out}/evidence, state_file: {out}/state.db, episode_log: {out}/e.jsonl}}
cameras:
  - id: campus
    source: {source}
    fps: 5
    zones:
      - {{id: van-bay, polygon: [[630, 75], [728, 75], [728, 115], [630, 115]]}}
      - {{id: footpath, polygon: [[0, 185], [768, 185], [768, 420], [0, 420]]}}
      - {{id: crossing, polygon: [[330, 120], [600, 120], [600, 200], [330, 200]]}}
"""
LADDER = ["stopped", "warned", "warned", "violation"]


@pytest.fixture(scope="module")
def campus_video() -> Path:
    from cameras.photos import PhotoMissing, photo_path

    try:
        return photo_path("campus_video")
    except PhotoMissing as exc:
        pytest.fail(str(exc))


@pytest.fixture(scope="module")
def campus_jpegs(campus_video: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The clip as JPEG frames in AVI: what the RTSP server sends as RTP/JPEG."""
    out = tmp_path_factory.mktemp("clip") / "campus-mjpeg.avi"
    capture = cv2.VideoCapture(str(campus_video))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(
        str(out), cv2.VideoWriter_fourcc(*"MJPG"), capture.get(cv2.CAP_PROP_FPS), size
    )
    writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 80)
    while True:
        ok, image = capture.read()
        if not ok:
            break
        writer.write(image)
    writer.release()
    capture.release()
    return out


def campus_site(source: str, out: Path):
    return parse_site_config(SITE.format(source=source, out=out))


def chains_by_zone(sink: MemorySink) -> dict[str, list[list[str]]]:
    by_episode: dict[str, list[EpisodeRecord]] = defaultdict(list)
    for record in sink.records:
        by_episode[record.episode_id].append(record)
    zones: dict[str, list[list[str]]] = defaultdict(list)
    for records in by_episode.values():
        zones[records[0].zone_id].append([r.event for r in records])
    return dict(zones)


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `condition` (the node's own state) until it holds; fail naming `what`."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        threading.Event().wait(0.1)


def camera_health(node: EdgeNode) -> dict:
    return node.health()["cameras"][0]


class RunningNode:
    """The node's `run()` in a thread, as `roadguard edge run` runs it."""

    def __init__(self, node: EdgeNode) -> None:
        self.node = node
        self.thread = threading.Thread(target=node.run, name="node", daemon=True)

    def __enter__(self) -> EdgeNode:
        self.thread.start()
        return self.node

    def __exit__(self, *exc: object) -> None:
        self.node.shutdown()
        self.thread.join(30)
        assert not self.thread.is_alive(), "the node did not stop"


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_real_footage_from_a_file_gives_one_violation_at_the_van_and_none_on_the_paths(
    campus_video, detector, tmp_path
):
    sink = MemorySink()
    node = EdgeNode(campus_site(str(campus_video), tmp_path), detector, sink)
    node.run()  # a file ends, and so does the node
    assert chains_by_zone(sink) == {"van-bay": [LADDER]}
    assert camera_health(node)["state"] == "closed"


class ServerProcess:
    """A camera server as its own process: started, killed (SIGKILL: a crash, no goodbye
    to the client) and started again on the same port."""

    def __init__(self, command: list[str], name: str, url: str) -> None:
        self.port = free_port()
        self.command, self.name = [*command, "--port", str(self.port)], name
        self.url = url.format(port=self.port)
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> ServerProcess:
        self.process = subprocess.Popen(self.command, stdout=subprocess.PIPE, text=True)
        ready, _, _ = select.select([self.process.stdout], [], [], 20)
        line = self.process.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if line.strip() != "ready":
            self.kill()
            pytest.fail(f"{self.name} did not start: {' '.join(self.command)}")
        return self

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(10)


def rtsp_server(clip: Path) -> ServerProcess:
    """GStreamer's RTSP server (Debian's python3-gi, gir1.2-gst-rtsp-server-1.0 and
    gstreamer1.0-plugins-good: `make system-deps` installs them)."""
    return ServerProcess(
        [DEBIAN_PYTHON, str(Path(__file__).with_name("rtsp_server.py")), "--file", str(clip)],
        "GStreamer's RTSP server",
        "rtsp://127.0.0.1:{port}/live",
    )


def mjpeg_server(clip: Path) -> ServerProcess:
    return ServerProcess(
        [sys.executable, str(Path(__file__).with_name("mjpeg_server.py")), "--file", str(clip)],
        "the MJPEG server",
        "http://127.0.0.1:{port}/stream.mjpg",
    )


def kill_and_bring_back(server: ServerProcess, node: EdgeNode) -> dict:
    """The camera server dies (SIGKILL) and comes back on the same URL: the node's health
    says `lost` with its back-off, then `live` again. Returns the health while lost."""
    assert camera_health(node)["state"] == "live"
    server.kill()
    wait_until(lambda: camera_health(node)["state"] == "lost", 30, "the stream to be lost")
    lost = camera_health(node)
    server.start()
    wait_until(lambda: camera_health(node)["state"] == "live", 60, "the reconnection")
    return lost


def events(sink: MemorySink) -> list[str]:
    return [r.event for r in sink.records]


@pytest.fixture
def rtsp(campus_jpegs: Path):
    server = rtsp_server(campus_jpegs).start()
    yield server
    server.kill()


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_the_node_on_a_real_rtsp_stream_survives_the_server_dying(rtsp, detector, tmp_path):
    sink = MemorySink()
    node = EdgeNode(campus_site(rtsp.url, tmp_path), detector, sink)
    with RunningNode(node):
        wait_until(lambda: "violation" in events(sink), 90, "the violation")
        lost = kill_and_bring_back(rtsp, node)
        assert "retrying in" in lost["detail"]  # the back-off, said in the health report
        frames = node.pipelines["campus"].stats.frames
        wait_until(lambda: node.pipelines["campus"].stats.frames > frames + 25, 30, "frames")
        back = camera_health(node)
    assert back["reconnects"] >= 1 and back["restarts"] == 0
    # the van stood there through the outage: still its one episode, one violation
    assert chains_by_zone(sink) == {"van-bay": [LADDER]}


@pytest.fixture
def mjpeg(campus_video: Path):
    server = mjpeg_server(campus_video).start()
    yield server
    server.kill()


@pytest.mark.needs_model
@pytest.mark.needs_photos
def test_the_node_on_an_mjpeg_http_camera_reconnects_after_it_goes_away(mjpeg, detector, tmp_path):
    sink = MemorySink()
    node = EdgeNode(campus_site(mjpeg.url, tmp_path), detector, sink)
    with RunningNode(node):
        wait_until(lambda: "warned" in events(sink), 60, "a warning")
        kill_and_bring_back(mjpeg, node)
        assert camera_health(node)["reconnects"] >= 1
    assert [c[:2] for c in chains_by_zone(sink)["van-bay"]] == [["stopped", "warned"]]
    assert set(chains_by_zone(sink)) == {"van-bay"}
