"""The scene script: what a YAML file in cameras/scenes/ may say, checked by pydantic.

Scripts are written and read by people who are not programmers (an installer preparing a
demo, an officer describing a case that went wrong), so every field says what it means and
in which unit, unknown keys are refused, and an error names the key to fix.

A script describes one camera view: the road drawn behind, the no-parking zones painted on
it, and actors (vehicles cut from real photos) that each follow a list of steps:

    - {enter: left, at: 3, to: 255}   drive in from the left edge at 3 s, stop with the
                                       vehicle's centre at x=255 px
    - {wait: 40s}                      stay parked 40 seconds
    - {until: 58}                      stay parked until 58 s of scene time
    - {move: 400}                      pull forward to x=400 and stop again
    - {leave: right}                   drive off to the right
    - {pass: right, at: 1}             drive past without stopping, from left to right
    - {parked: 300}                    (first step only) already parked at x=300 px when the
                                       scene begins: a kerb that was full before the camera
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from cameras.trajectory import DEFAULT_ACCEL, Trajectory, TrajectoryBuilder
from configbase import StrictModel


def _seconds(value: Any) -> Any:
    """Accept 40, 40.5, "40s", "1.5 s", "2m" or "1m30s" as seconds."""
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(?:(\d+(?:\.\d+)?)\s*m)?\s*(?:(\d+(?:\.\d+)?)\s*s?)?\s*", value)
        if not match or not any(match.groups()):
            raise ValueError(f"{value!r} is not a duration (write 40, 40s, 2m or 1m30s)")
        minutes, seconds = match.groups()
        return float(minutes or 0) * 60 + float(seconds or 0)
    return value


Seconds = Annotated[float, BeforeValidator(_seconds), Field(ge=0, le=24 * 3600)]
Side = Literal["left", "right"]
Tint = Literal["none", "blue", "dark", "green", "white", "yellow", "teal"]


class _Timed(StrictModel):
    at: Seconds | None = Field(
        None, description="Scene time (s) this step starts; right after the previous if empty."
    )
    speed: float | None = Field(
        None, gt=0, le=2000, description="Cruise speed in px/s; the actor's speed if empty."
    )


class Enter(_Timed):
    enter: Side = Field(description="Edge of the picture the vehicle drives in from.")
    to: float = Field(description="x (px) of the vehicle's centre where it stops.")


class Move(_Timed):
    move: float = Field(description="x (px) of the vehicle's centre where it stops next.")


class Parked(StrictModel):
    parked: float = Field(description="x (px) of the vehicle's centre, parked since before t=0.")


class Wait(StrictModel):
    wait: Seconds = Field(description="Seconds the vehicle stays where it is.")


class Until(StrictModel):
    until: Seconds = Field(description="Scene time (s) until which the vehicle stays.")


class Leave(_Timed):
    leave: Side = Field(description="Edge of the picture the vehicle drives off through.")


class Pass(_Timed):
    pass_: Side = Field(
        alias="pass", description="Drive across without stopping, towards this edge."
    )


STEP_KINDS = ("enter", "move", "wait", "until", "leave", "pass", "parked")


def _step_kind(value: Any) -> str | None:
    if isinstance(value, dict):
        kinds = [k for k in STEP_KINDS if k in value]
        return kinds[0] if len(kinds) == 1 else None
    return {
        Enter: "enter",
        Move: "move",
        Wait: "wait",
        Until: "until",
        Leave: "leave",
        Pass: "pass",
        Parked: "parked",
    }.get(type(value))


Step = Annotated[
    Annotated[Enter, Tag("enter")]
    | Annotated[Move, Tag("move")]
    | Annotated[Wait, Tag("wait")]
    | Annotated[Until, Tag("until")]
    | Annotated[Leave, Tag("leave")]
    | Annotated[Pass, Tag("pass")]
    | Annotated[Parked, Tag("parked")],
    Discriminator(
        _step_kind,
        custom_error_type="step_kind",
        custom_error_message="a step needs exactly one of: " + ", ".join(STEP_KINDS),
    ),
]


class ActorScript(StrictModel):
    """One vehicle cut from a real photo, and what it does."""

    name: str = Field(pattern=r"^[A-Za-z][\w-]*$", description="Name in the ground truth.")
    sprite: Literal["car", "bus"] = Field(description="Which real photo the vehicle is cut from.")
    width: int = Field(ge=40, le=4000, description="Drawn width in px (height follows).")
    lane: str = Field(description="Lane (a name from road.lanes) it drives and stops in.")
    tint: Tint = Field("none", description="Colour wash so a row of cars is not all alike.")
    flip: bool = Field(False, description="Mirror the photo left-right.")
    speed: float = Field(150.0, gt=0, le=2000, description="Cruise speed in px/s.")
    plate: str | None = Field(
        None, max_length=12, description="Its licence plate, as a plate reader would read it."
    )
    steps: list[Step] = Field(min_length=1, description="What it does, in order.")


class RoadLayout(StrictModel):
    """The drawn background: wall, pavement, kerb, road, markings (y grows downwards)."""

    wall_bottom: int = Field(150, ge=0, description="y (px) where the wall meets the pavement.")
    kerb_y: int = Field(345, ge=0, description="y (px) of the kerb's top edge.")
    lane_line_y: int | None = Field(
        486, ge=0, description="y (px) of the dashed line between the lanes; none if empty."
    )
    lanes: dict[str, int] = Field(
        default_factory=lambda: {"kerb": 455, "near": 528},
        description="Lane name -> y (px) where its vehicles' wheels touch the road.",
    )
    no_parking_box: tuple[int, int, int, int] | None = Field(
        (100, 380, 860, 470), description="Painted yellow box x0, y0, x1, y1 (px); none if empty."
    )
    no_parking_text: str = Field("NO PARKING", max_length=40, description="Painted in the box.")

    @model_validator(mode="after")
    def _ordered(self) -> RoadLayout:
        if not self.wall_bottom < self.kerb_y:
            raise ValueError("wall_bottom must be above (less than) kerb_y")
        return self


Point = tuple[int, int]


class SceneScript(StrictModel):
    """One scripted camera view."""

    name: str = Field(pattern=r"^[\w-]+$", description="Scene name (the file's stem).")
    description: str = Field("", description="What the scene is for, for the people reading it.")
    size: tuple[int, int] = Field((960, 540), description="Frame width, height in px.")
    fps: float = Field(5.0, gt=0, le=60, description="Frames per second of scene time.")
    duration: Seconds = Field(description="Length of the scene in seconds.")
    seed: int = Field(0, ge=0, description="Seed of the road texture and sensor noise.")
    noise: float = Field(2.0, ge=0, le=30, description="Sensor noise (grey levels, std).")
    road: RoadLayout = Field(default_factory=RoadLayout)
    zones: dict[str, list[Point]] = Field(
        default_factory=dict, description="No-parking zone id -> polygon in px, for the edge."
    )
    actors: list[ActorScript] = Field(default_factory=list)

    @field_validator("size")
    @classmethod
    def _positive_size(cls, size: tuple[int, int]) -> tuple[int, int]:
        if not (16 <= size[0] <= 8192 and 16 <= size[1] <= 8192):
            raise ValueError("width and height must be between 16 and 8192 px")
        return size

    @field_validator("zones")
    @classmethod
    def _polygons(cls, zones: dict[str, list[Point]]) -> dict[str, list[Point]]:
        for zone_id, polygon in zones.items():
            if len(polygon) < 3:
                raise ValueError(f"zone {zone_id!r} needs at least 3 points")
        return zones

    @model_validator(mode="after")
    def _consistent(self) -> SceneScript:
        names = [a.name for a in self.actors]
        if len(names) != len(set(names)):
            raise ValueError(f"actor names must be unique, got {names}")
        for i, actor in enumerate(self.actors):
            if actor.lane not in self.road.lanes:
                raise ValueError(
                    f"actors.{i}.lane: {actor.lane!r} is not one of road.lanes "
                    f"{sorted(self.road.lanes)}"
                )
            self.trajectory(i)  # raises naming the step that cannot happen
        return self

    def trajectory(self, actor_index: int) -> Trajectory:
        """Where actor `actor_index` is over time (its centre x, px)."""
        actor = self.actors[actor_index]
        return compile_steps(actor, self.size[0], f"actors.{actor_index}")


def compile_steps(actor: ActorScript, frame_width: int, where: str) -> Trajectory:
    """Turn an actor's steps into a trajectory; a ValueError names the step at fault."""
    plan = TrajectoryBuilder(DEFAULT_ACCEL)
    # Off the scene: the whole vehicle just beyond the picture's edge.
    off = {"left": -actor.width / 2 - 1, "right": frame_width + actor.width / 2 + 1}
    for n, step in enumerate(actor.steps):
        here = f"{where}.steps.{n}"
        if isinstance(step, Parked):
            if n != 0:
                raise ValueError(f"{here}: only the first step can be `parked`")
            plan.x = step.parked
            continue
        if isinstance(step, Wait | Until):
            if plan.x is None:
                raise ValueError(f"{here}: the vehicle is not in the scene; enter first")
            if isinstance(step, Until) and step.until < plan.t - 1e-9:
                raise ValueError(
                    f"{here}.until: {step.until} s is before the previous step ends "
                    f"({plan.t:.1f} s)"
                )
            plan.hold_until(plan.t + step.wait if isinstance(step, Wait) else step.until)
            continue
        if step.at is not None:
            if step.at < plan.t - 1e-9:
                raise ValueError(
                    f"{here}.at: {step.at} s is before the previous step ends ({plan.t:.1f} s)"
                )
            plan.hold_until(step.at)
        speed = step.speed or actor.speed
        if isinstance(step, Enter | Pass):
            if plan.x is not None:
                raise ValueError(f"{here}: the vehicle is already in the scene")
            side = step.enter if isinstance(step, Enter) else _other(step.pass_)
            start = off[side]
            if isinstance(step, Enter):
                if (step.to - start) * (1 if side == "left" else -1) <= 0:
                    raise ValueError(f"{here}.to: x={step.to} cannot be reached from the {side}")
                plan.drive(start, step.to, speed, from_rest=False, to_rest=True)
            else:
                plan.drive(start, off[step.pass_], speed, from_rest=False, to_rest=False)
                plan.vanish()
        elif isinstance(step, Move):
            if plan.x is None:
                raise ValueError(f"{here}: the vehicle is not in the scene; enter first")
            plan.drive(plan.x, step.move, speed, from_rest=True, to_rest=True)
        else:  # Leave
            if plan.x is None:
                raise ValueError(f"{here}: the vehicle is not in the scene; enter first")
            plan.drive(plan.x, off[step.leave], speed, from_rest=True, to_rest=False)
            plan.vanish()
    return plan.build()


def _other(side: str) -> str:
    return "left" if side == "right" else "right"
