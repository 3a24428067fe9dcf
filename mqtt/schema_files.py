"""JSON Schema files generated from the payload models, for consumers that are not Python.

The models are the source of truth; the files in `mqtt/schemas/` are their printout, kept in
the repository so a reviewer sees a contract change as a diff. `roadguard mqtt schemas`
rewrites them; a test fails when they drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mqtt.payloads import PAYLOAD_TYPES

SCHEMA_DIR = Path(__file__).parent / "schemas"


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12, the wire names: `schema`, not `schema_`)."""
    documents = {}
    for model in PAYLOAD_TYPES:
        document = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            **model.model_json_schema(by_alias=True, mode="validation"),
        }
        documents[f"{model.SCHEMA_NAME}-{model.MAJOR}.json"] = document
    return documents


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_schemas(folder: Path = SCHEMA_DIR) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, document in schema_documents().items():
        path = folder / name
        path.write_text(render(document), encoding="utf-8")
        written.append(path)
    return written


def stale_schemas(folder: Path = SCHEMA_DIR) -> list[str]:
    """Names of files that are missing, differ from the models, or belong to no model."""
    expected = {name: render(doc) for name, doc in schema_documents().items()}
    stale = [
        name
        for name, text in expected.items()
        if not (folder / name).is_file() or (folder / name).read_text(encoding="utf-8") != text
    ]
    stale += sorted(p.name for p in folder.glob("*.json") if p.name not in expected)
    return stale
