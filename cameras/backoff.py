"""Exponential back-off between reconnection attempts.

A camera that reboots comes back in seconds; one whose cable was cut may stay dead for days.
Retrying quickly at first and then at most every `max_s` finds the first case fast without
hammering the network (or the log) in the second. Jitter spreads the retries of many cameras
that dropped together (a switch reboot) so they do not all reconnect at the same instant.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 1.0
    max_s: float = 60.0
    factor: float = 2.0
    jitter: float = 0.0  # each delay is shortened by a random share of up to `jitter`
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempt: int = 0

    def __post_init__(self) -> None:
        if not 0 < self.initial_s <= self.max_s:
            raise ValueError("back-off needs 0 < initial_s <= max_s")
        if self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("back-off needs factor >= 1 and 0 <= jitter < 1")

    def next_delay(self) -> float:
        """The wait before the next attempt; each call doubles it (by `factor`) up to `max_s`."""
        delay = min(self.max_s, self.initial_s * self.factor**self.attempt)
        self.attempt += 1
        # Shortening only (never lengthening) keeps `max_s` a true ceiling and still spreads
        # the cameras that all sit at the ceiling.
        return delay * (1 - self.jitter * self.rng.random()) if self.jitter else delay

    def reset(self) -> None:
        """After a success: the next failure starts again from `initial_s`."""
        self.attempt = 0
