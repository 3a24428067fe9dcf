"""Evidence retention: an edge box's disk is small and must never fill with old pictures, but
the evidence of an episode the centre has not received yet is the only copy there is.

Episode folders go when older than `max_age_days`, then oldest first while the folder is over
`max_bytes` — except those `keep(episode_id)` protects (open episodes, and episodes with
messages still waiting in the outbox for the broker's acknowledgement).
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)


class RetentionConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_age_days: float = Field(30, gt=0, description="Evidence older than this is deleted.")
    max_bytes: int = Field(
        5 * 1024**3, gt=0, description="The evidence folder is kept under this size."
    )


@dataclass(frozen=True)
class PruneResult:
    deleted: list[str]
    kept_unacknowledged: int
    bytes_after: int


def prune_evidence(
    root: Path,
    config: RetentionConfig,
    keep: Callable[[str], bool],
    now: float | None = None,
) -> PruneResult:
    now = time.time() if now is None else now
    folders = []
    for folder in root.iterdir() if root.is_dir() else []:
        if not folder.is_dir():
            continue
        files = [f for f in folder.iterdir() if f.is_file()]
        newest = max((f.stat().st_mtime for f in files), default=folder.stat().st_mtime)
        folders.append((newest, folder, sum(f.stat().st_size for f in files)))
    folders.sort()  # oldest first
    total = sum(size for _, _, size in folders)
    deleted: list[str] = []
    protected = 0
    for newest, folder, size in folders:
        too_old = now - newest > config.max_age_days * 86400
        if not too_old and total <= config.max_bytes:
            break  # the rest are newer and we are under budget
        if keep(folder.name):
            protected += 1
            continue
        shutil.rmtree(folder, ignore_errors=True)
        deleted.append(folder.name)
        total -= size
    if protected and total > config.max_bytes:
        log.warning(
            "evidence over its budget (%d bytes) but %d episode(s) are not acknowledged yet",
            total,
            protected,
        )
    return PruneResult(deleted, protected, total)
