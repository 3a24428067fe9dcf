"""Where a scripted vehicle is at any moment: its steps turned into motion phases.

Vehicles accelerate and brake (they do not teleport or stop dead), because the tracker and
the stillness rules downstream are tuned on real motion: a car that halts within one frame
would test nothing. Each phase has constant acceleration, so a position is exact at any
time and a scene renders the same frame for the same index, always.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Comfortable urban braking/acceleration in pixels/s^2 at the demo scale (a 250 px car is
# ~4.5 m, so 150 px/s^2 ~ 2.7 m/s^2).
DEFAULT_ACCEL = 150.0


@dataclass(frozen=True)
class Phase:
    """From `start` to `end` (seconds) the vehicle's centre moves as x0 + v0*dt + a*dt^2/2;
    `present` is False while it is off the scene."""

    start: float
    end: float
    x0: float
    v0: float = 0.0
    accel: float = 0.0
    present: bool = True

    def x(self, t: float) -> float:
        dt = t - self.start
        return self.x0 + self.v0 * dt + 0.5 * self.accel * dt * dt

    def speed(self, t: float) -> float:
        return self.v0 + self.accel * (t - self.start)

    @property
    def x_end(self) -> float:
        return self.x(self.end)


class Trajectory:
    """Contiguous phases from t=0 to infinity."""

    def __init__(self, phases: list[Phase]) -> None:
        self.phases = phases

    def at(self, t: float) -> tuple[float | None, float]:
        """(centre x, or None when off the scene; signed speed in px/s) at time `t`."""
        for phase in self.phases:
            if phase.start <= t < phase.end:
                return (phase.x(t) if phase.present else None), phase.speed(t)
        return None, 0.0


class TrajectoryBuilder:
    """Appends phases as the script's steps are read; `error` names what is impossible."""

    def __init__(self, accel: float = DEFAULT_ACCEL) -> None:
        self.accel = accel
        self.phases: list[Phase] = []
        self.t = 0.0
        self.x: float | None = None  # None while off the scene

    def hold_until(self, t: float) -> None:
        """Stay put (parked, or off the scene) until `t`."""
        if t > self.t:
            self.phases.append(
                Phase(self.t, t, self.x if self.x is not None else 0.0, present=self.x is not None)
            )
            self.t = t

    def drive(self, x0: float, x1: float, speed: float, *, from_rest: bool, to_rest: bool) -> None:
        """Drive from x0 to x1 at cruise `speed`, starting/ending at rest or at speed."""
        distance = abs(x1 - x0)
        if distance == 0:
            return
        sign = 1.0 if x1 > x0 else -1.0
        for duration, v0, accel in _speed_profile(
            distance, speed, self.accel, 0.0 if from_rest else speed, 0.0 if to_rest else speed
        ):
            if duration <= 0:
                continue
            phase = Phase(self.t, self.t + duration, x0, sign * v0, sign * accel)
            self.phases.append(phase)
            self.t, x0 = phase.end, phase.x_end
        # Remove float drift so a stop lands exactly on the scripted pixel.
        last = self.phases[-1]
        self.phases[-1] = Phase(
            last.start,
            last.end,
            last.x0,
            last.v0,
            2 * (x1 - last.x0 - last.v0 * (last.end - last.start)) / (last.end - last.start) ** 2,
        )
        self.x = x1

    def vanish(self) -> None:
        """The vehicle has left the scene."""
        self.x = None

    def build(self) -> Trajectory:
        tail = Phase(
            self.t, math.inf, self.x if self.x is not None else 0.0, present=self.x is not None
        )
        return Trajectory([*self.phases, tail])


def _speed_profile(
    distance: float, cruise: float, accel: float, v_start: float, v_end: float
) -> list[tuple[float, float, float]]:
    """(duration, start speed, acceleration) of accelerate / cruise / brake phases covering
    `distance` (all values positive), trapezoidal or, when too short for full speed,
    triangular; a vehicle arriving at speed with too little room brakes harder."""
    up = (cruise**2 - v_start**2) / (2 * accel)
    down = (cruise**2 - v_end**2) / (2 * accel)
    if up + down <= distance:
        return [
            ((cruise - v_start) / accel, v_start, accel),
            ((distance - up - down) / cruise, cruise, 0.0),
            ((cruise - v_end) / accel, cruise, -accel),
        ]
    peak = math.sqrt(accel * distance + (v_start**2 + v_end**2) / 2)
    if peak >= max(v_start, v_end):
        return [((peak - v_start) / accel, v_start, accel), ((peak - v_end) / accel, peak, -accel)]
    # Arriving at speed with too little room (or leaving at speed too soon): one hard phase.
    duration = 2 * distance / (v_start + v_end)
    return [(duration, v_start, (v_end - v_start) / duration)]
