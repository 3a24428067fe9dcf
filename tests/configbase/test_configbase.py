"""One way to read a YAML file into a model: every problem names file:line: key, and the
items of a list by their id, so the operator, the county and the scene writer read alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import Field

from configbase import InvalidFile, StrictModel, load_yaml, parse_yaml


class Zone(StrictModel):
    id: str
    polygon: list[tuple[float, float]] = Field(min_length=3)


class Camera(StrictModel):
    id: str
    fps: float = Field(5, gt=0)
    zones: list[Zone] = []


class Site(StrictModel):
    node_id: str
    cameras: list[Camera]


GOOD = """\
node_id: gate-7
cameras:
  - id: north
    fps: 5
    zones:
      - id: footpath
        polygon:
          - [0, 0]
          - [1, 0]
          - [1, 1]
"""


def problems(text: str) -> str:
    with pytest.raises(InvalidFile) as caught:
        parse_yaml(text, Site, Path("site.yaml"), what="site config")
    return str(caught.value)


def test_a_good_file_is_a_frozen_model():
    site = parse_yaml(GOOD, Site)
    assert site.cameras[0].zones[0].id == "footpath"
    with pytest.raises(ValueError, match="frozen"):
        site.node_id = "other"  # type: ignore[misc]


def test_each_problem_names_the_line_of_its_key_and_the_items_by_id():
    said = problems(GOOD.replace("fps: 5", "fps: -5").replace("          - [1, 1]\n", ""))
    assert said.startswith("site.yaml: invalid site config\n")
    assert "site.yaml:4: cameras.0.fps: camera 'north': Input should be greater than 0" in said
    # the key's line, not its value's (the polygon's points start on the next line)
    assert "site.yaml:7: cameras.0.zones.0.polygon: camera 'north', zone 'footpath': " in said


def test_a_missing_key_points_at_its_parent_and_a_typo_at_itself():
    # the camera without an id begins at its first key, fps, on line 4
    assert "site.yaml:4: cameras.0.id: Field required" in problems(GOOD.replace("id: north", ""))
    said = problems(GOOD.replace("fps: 5", "fsp: 5"))
    assert "site.yaml:4: cameras.0.fsp: camera 'north': Extra inputs are not permitted" in said


def test_broken_yaml_a_list_at_the_top_and_a_missing_file(tmp_path):
    assert "site.yaml:3: not valid YAML" in problems("node_id: x\ncameras: [\n")
    assert "site.yaml: expected a mapping of settings" in problems("- just\n- a list\n")
    with pytest.raises(InvalidFile, match="cannot read"):
        load_yaml(tmp_path / "nope.yaml", Site)
