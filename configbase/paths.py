"""Where RoadGuard keeps what it prepares once: converted models, real test photos, evidence.

A per-user data dir (XDG on Linux) so that `make demo`, `make test` and an edge box all find
the same prepared model; `ROADGUARD_DATA_DIR` moves it (CI, read-only homes, tests).
"""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def data_dir() -> Path:
    override = os.environ.get("ROADGUARD_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir("roadguard"))
    path.mkdir(parents=True, exist_ok=True)
    return path
