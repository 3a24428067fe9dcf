"""Evidence pictures, stored by content (sha256) behind a small interface.

Content addressing makes a re-delivered JPEG free (same bytes, same key) and lets a file be
checked against the hash the node sent. `LocalEvidenceStore` is the one-machine default;
`DatabaseEvidenceStore` keeps the bytes as rows of the centre's database, so several centre
machines on one PostgreSQL serve each other's pictures with nothing else shared (design.md,
"Defaults and scale"); an S3-compatible store implements the same methods. Configuration
picks one (`EvidenceConfig.backend`).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from central.config import EvidenceConfig
from central.models import EvidenceBlob

if TYPE_CHECKING:
    from central.db import Database

_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class EvidenceError(ValueError):
    """Evidence that cannot be accepted (too large, wrong hash, bad key)."""


class EvidenceStore(Protocol):
    def put(self, data: bytes) -> str:
        """Store the bytes; return their sha256 hex digest, the key to get them back."""
        ...

    def get(self, sha256: str) -> bytes | None:
        """The bytes stored under the key, or None."""
        ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes (undoing a `put` whose database row was never committed)."""
        ...


def sha256_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class LocalEvidenceStore:
    """Files under `root/ab/cd/<sha256>`: two fan-out levels keep directories small."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)

    def _path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise EvidenceError(f"not a sha256 key: {sha256!r}")
        return self.root / sha256[:2] / sha256[2:4] / sha256

    def put(self, data: bytes) -> str:
        digest = sha256_of(data)
        path = self._path(digest)
        if path.exists():
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write then rename: a crash never leaves a truncated file under a valid key.
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return digest

    def get(self, sha256: str) -> bytes | None:
        path = self._path(sha256)
        return path.read_bytes() if path.exists() else None

    def exists(self, sha256: str) -> bool:
        return self._path(sha256).exists()

    def delete(self, sha256: str) -> None:
        self._path(sha256).unlink(missing_ok=True)


class DatabaseEvidenceStore:
    """Rows of `evidence_blobs`, keyed by sha256, each `put` in its own short transaction
    (the bytes are committed before the index row that names them, as on disk)."""

    def __init__(self, database: Database) -> None:
        self.db = database

    @staticmethod
    def _key(sha256: str) -> str:
        if not _SHA256.fullmatch(sha256):
            raise EvidenceError(f"not a sha256 key: {sha256!r}")
        return sha256

    def put(self, data: bytes) -> str:
        digest = sha256_of(data)
        dialect = postgresql if self.db.dialect == "postgresql" else sqlite
        row = {"sha256": digest, "size": len(data), "data": data, "stored_at": datetime.now(UTC)}
        # Two workers storing the same picture at once: the second one's row is the same.
        statement = dialect.insert(EvidenceBlob).values(row).on_conflict_do_nothing()
        with self.db.session() as session:
            session.execute(statement)
        return digest

    def get(self, sha256: str) -> bytes | None:
        query = select(EvidenceBlob.data).where(EvidenceBlob.sha256 == self._key(sha256))
        with self.db.session() as session:
            return session.scalar(query)

    def exists(self, sha256: str) -> bool:
        query = select(EvidenceBlob.sha256).where(EvidenceBlob.sha256 == self._key(sha256))
        with self.db.session() as session:
            return session.scalar(query) is not None

    def delete(self, sha256: str) -> None:
        with self.db.session() as session:
            session.execute(delete(EvidenceBlob).where(EvidenceBlob.sha256 == self._key(sha256)))


def open_evidence_store(
    config: EvidenceConfig, default_root: Path, database: Database | None = None
) -> EvidenceStore:
    if config.backend == "local":
        return LocalEvidenceStore(config.path or default_root)
    if config.backend == "database":
        if database is None:
            raise ValueError("the database evidence backend needs the centre's database")
        return DatabaseEvidenceStore(database)
    raise ValueError(f"unknown evidence backend {config.backend!r}")  # pragma: no cover
