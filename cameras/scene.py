"""The scene source: RoadGuard's own test footage, scripted and deterministic.

Real vehicle photos (`cameras.sprites`) are moved along a script (`cameras.scene_script`,
YAML files in cameras/scenes/) over a drawn road (`cameras.road`) and rendered at a fixed
frame rate with synthetic timestamps (index / fps). The same scene gives the same frames
every time, and it knows where every vehicle really is (`truth`), which footage from a real
camera never tells a test.

    scene = load_scene("demo", camera_id="cam")
    for frame in scene:              # a FrameSource like any camera
        boxes = scene.truth(frame.index)
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from cameras.frames import Frame
from cameras.road import draw_road
from cameras.scene_script import STEP_KINDS, SceneScript
from cameras.sprites import cast_shadow, make_sprite, paste, sprite_height
from cameras.state import FiniteSource, SourceState, StateListener
from cameras.trajectory import Trajectory
from configbase import InvalidFile, parse_yaml, validate_data

log = logging.getLogger(__name__)

Box = tuple[int, int, int, int]


@dataclass(frozen=True)
class ActorTruth:
    """Where one actor is in one frame.

    `box` is the drawn sprite clipped to the frame (x0, y0, x1, y1; x1/y1 exclusive; the
    bottom edge is where the wheels touch the road);
    `visible` the share of the whole sprite's box that is in the frame and not hidden by a
    nearer vehicle; `speed` the signed speed in px/s (0 when stopped); `plate` what the
    script says its plate reads.
    """

    name: str
    sprite: str
    box: Box
    visible: float
    speed: float
    plate: str | None = None

    @property
    def moving(self) -> bool:
        return abs(self.speed) > 1e-6

    @property
    def in_frame(self) -> bool:
        return self.box[0] < self.box[2] and self.box[1] < self.box[3]

    @property
    def bottom_centre(self) -> tuple[float, float]:
        return (self.box[0] + self.box[2]) / 2, float(self.box[3])


class SceneError(InvalidFile):
    """A scene script that cannot be used; the message names the file, line and key."""


class SceneSource(FiniteSource):
    """A scripted scene as a `FrameSource`; also renders any frame by index, in any order."""

    def __init__(
        self,
        script: SceneScript,
        *,
        camera_id: str = "scene",
        fps_cap: float | None = None,
        on_state: StateListener | None = None,
    ) -> None:
        super().__init__(camera_id, fps_cap, on_state)
        self.script = script
        self._background: np.ndarray | None = None
        self._trajectories: list[Trajectory] = [
            script.trajectory(i) for i in range(len(script.actors))
        ]

    # -- what the edge and tests read -------------------------------------------------
    @property
    def name(self) -> str:
        return self.script.name

    @property
    def fps(self) -> float:
        return self.script.fps

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return self.script.size

    @property
    def frame_count(self) -> int:
        return round(self.script.duration * self.script.fps)

    @property
    def zones(self) -> dict[str, list[tuple[int, int]]]:
        """Zone id -> polygon (px) the scene was drawn for, for the edge's site config."""
        return {zone_id: list(points) for zone_id, points in self.script.zones.items()}

    def __len__(self) -> int:
        return self.frame_count

    def timestamp(self, index: int) -> float:
        return index / self.script.fps

    def truth(self, index: int, *, include_hidden: bool = False) -> dict[str, ActorTruth]:
        """Actor name -> where it is in frame `index`, for every actor at least partly in view
        (and, with `include_hidden`, those completely behind a nearer vehicle: visible 0)."""
        placed = self._placed(self.timestamp(index))
        return {a.name: a for a in placed if a.visible > 0 or (include_hidden and a.in_frame)}

    def render(self, index: int) -> np.ndarray:
        """Frame `index` as a BGR image (the same pixels on every call)."""
        t = self.timestamp(index)
        image = self.background.copy()
        for n, (x0, y0, x1, y1), _ in self._far_to_near(t):
            actor = self.script.actors[n]
            cast_shadow(image, x0, x1, y1)
            paste(image, make_sprite(actor.sprite, actor.width, actor.tint, actor.flip), x0, y0)
        if self.script.noise:
            rng = np.random.default_rng([self.script.seed, index])
            noise = rng.normal(0.0, self.script.noise, image.shape[:2] + (1,))
            image = np.clip(image + noise, 0, 255).astype(np.uint8)
        return image

    def frame(self, index: int) -> Frame:
        return Frame(self.camera_id, index, self.timestamp(index), self.render(index))

    @property
    def background(self) -> np.ndarray:
        """The empty road (no vehicles, no sensor noise)."""
        if self._background is None:
            self._background = draw_road(self.script.size, self.script.road, self.script.seed)
        return self._background

    # -- FrameSource (state and close() come from FiniteSource) -----------------------
    def __iter__(self) -> Iterator[Frame]:
        for index in range(self.frame_count):
            if self._closed:
                return
            if not self.cap.admit(self.timestamp(index)):
                continue
            self._lifecycle.enter(SourceState.LIVE, f"playing scene {self.name}")
            yield self.frame(index)
        self._lifecycle.enter(SourceState.CLOSED, "end of scene")

    # -- placement --------------------------------------------------------------------
    def _far_to_near(self, t: float) -> list[tuple[int, Box, float]]:
        """(actor index, drawn box, speed) of the actors on the scene at `t`, far to near: a
        larger bottom edge is nearer the camera and is drawn later (so a bus in the near lane
        hides a car at the kerb); ties keep the script's order."""
        placed = []
        for n, (actor, path) in enumerate(zip(self.script.actors, self._trajectories, strict=True)):
            x, speed = path.at(t)
            if x is None:
                continue
            height = sprite_height(actor.sprite, actor.width)
            bottom = self.script.road.lanes[actor.lane]
            x0 = round(x - actor.width / 2)
            placed.append((n, (x0, bottom - height, x0 + actor.width, bottom), speed))
        return sorted(placed, key=lambda item: (item[1][3], item[0]))

    def _placed(self, t: float) -> list[ActorTruth]:
        width, height = self.script.size
        boxes = self._far_to_near(t)
        # Paint each actor's box, far to near, in a label image: what survives is visible.
        labels = np.full((height, width), -1, np.int32)
        for n, (x0, y0, x1, y1), _ in boxes:
            labels[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = n
        truths = []
        for n, (x0, y0, x1, y1), speed in boxes:
            actor = self.script.actors[n]
            area = (x1 - x0) * (y1 - y0)
            clipped = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
            cx0, cy0, cx1, cy1 = clipped
            seen = int(np.count_nonzero(labels[cy0:cy1, cx0:cx1] == n)) if cx0 < cx1 else 0
            truths.append(
                ActorTruth(actor.name, actor.sprite, clipped, seen / area, speed, actor.plate)
            )
        return truths


# -- loading -----------------------------------------------------------------------------
def scene_dir() -> Path:
    return Path(str(resources.files("cameras") / "scenes"))


def scene_names() -> list[str]:
    """Names of the scenes shipped in cameras/scenes/."""
    return sorted(p.stem for p in scene_dir().glob("*.yaml"))


def load_scene(
    name_or_path: str | Path,
    *,
    camera_id: str = "scene",
    fps_cap: float | None = None,
    on_state: StateListener | None = None,
) -> SceneSource:
    """A shipped scene by name ("demo") or a script file by path."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = scene_dir() / f"{name_or_path}.yaml"
        if not path.is_file():
            raise SceneError(f"no scene {name_or_path!r}; shipped scenes: {scene_names()}")
    script = parse_scene(path.read_text(encoding="utf-8"), path)
    return SceneSource(script, camera_id=camera_id, fps_cap=fps_cap, on_state=on_state)


def scene_from_dict(data: dict[str, Any], *, camera_id: str = "scene") -> SceneSource:
    """A scene built in Python (tests): the same keys as a script file."""
    script = validate_data(
        data,
        SceneScript,
        "<dict>",
        what="scene script",
        error=SceneError,
        clean_location=_without_tags,
    )
    return SceneSource(script, camera_id=camera_id)


def parse_scene(text: str, path: Path = Path("<scene>")) -> SceneScript:
    """Validate a script's YAML text; the scene's name defaults to the file's stem."""
    return parse_yaml(
        text,
        SceneScript,
        path,
        what="scene script",
        error=SceneError,
        defaults={"name": path.stem},
        clean_location=_without_tags,
    )


def _without_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the step kind pydantic puts after `steps.N` (readers know keys, not union tags)."""
    kept: list[Any] = []
    for i, part in enumerate(loc):
        if i >= 2 and loc[i - 2] == "steps" and isinstance(loc[i - 1], int) and part in STEP_KINDS:
            continue
        kept.append(part)
    return tuple(kept)
