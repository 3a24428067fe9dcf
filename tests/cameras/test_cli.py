"""`roadguard scene list|render`: a person can look at a scene as pictures or a video."""

from __future__ import annotations

import cv2
import pytest

from roadguard.cli import main

pytestmark = pytest.mark.usefixtures("photos")


def test_scene_list_names_the_shipped_scenes(capsys):
    assert main(["scene", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("demo", "jam", "bus_occlusion", "delivery_stop"):
        assert f"{name}: " in out
    assert "school-gate" in out


def test_scene_render_to_pngs_and_to_a_video(tmp_path):
    assert main(["scene", "render", "delivery_stop", "--out", str(tmp_path), "--frames", "3"]) == 0
    pngs = sorted(tmp_path.glob("*.png"))
    assert [p.name for p in pngs] == [f"delivery_stop_0000{i}.png" for i in range(3)]
    assert cv2.imread(str(pngs[0])).shape == (540, 960, 3)

    video = tmp_path / "clip.avi"
    assert main(["scene", "render", "demo", "--out", str(video), "--frames", "4", "--overlay"]) == 0
    capture = cv2.VideoCapture(str(video))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 4 and capture.get(cv2.CAP_PROP_FPS) == 5
    capture.release()


def test_scene_render_reports_a_broken_script(tmp_path, capsys):
    script = tmp_path / "bad.yaml"
    script.write_text("fps: 5\nduration: 10\nactors:\n  - {name: a, sprite: tram}\n")
    assert main(["scene", "render", str(script), "--out", str(tmp_path / "out")]) == 2
    out = capsys.readouterr().out
    assert "bad.yaml:4: actors.0.sprite" in out
