"""Load a site config YAML and turn validation errors into "file:line: key: problem".

An installer on a ladder with a laptop should see which key on which line to fix, so each
pydantic error location is walked back through the YAML node tree to its line.
"""

from __future__ import annotations

from pathlib import Path

import yaml
from pydantic import ValidationError

from edge.config import SiteConfig


class ConfigError(ValueError):
    """A site config that cannot be used; the message lists every problem with its line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path, self.problems = path, problems
        super().__init__(f"{path}: invalid site config\n" + "\n".join(problems))


def load_site_config(path: str | Path) -> SiteConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(path, [f"  cannot read: {exc.strerror or exc}"]) from exc
    return parse_site_config(text, path)


def parse_site_config(text: str, path: Path = Path("<config>")) -> SiteConfig:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(path, [f"  {path}:{where}: not valid YAML: {problem}"]) from exc
    if not isinstance(data, dict):
        raise ConfigError(path, [f"  {path}: expected a mapping of settings at the top"])
    try:
        return SiteConfig.model_validate(data)
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            loc = tuple(error["loc"])
            line = _line_of(root, loc)
            key = ".".join(str(p) for p in loc) or "(top)"
            named = _named(data, loc)
            message = error["msg"].removeprefix("Value error, ")
            problems.append(f"  {path}:{line}: {key}: {named + ': ' if named else ''}{message}")
        raise ConfigError(path, problems) from exc


_ITEM_NAMES = {"cameras": "camera", "zones": "zone"}


def _named(data: object, loc: tuple) -> str:
    """The cameras and zones on `loc` by their ids ("camera 'cam1', zone 'footpath'"): an
    installer knows the zone called footpath, not the second zone of the first camera."""
    names, parent = [], None
    for part in loc:
        if isinstance(data, dict):
            parent, data = part, data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            item = _ITEM_NAMES.get(str(parent))
            if item and isinstance(data, dict) and isinstance(data.get("id"), str):
                names.append(f"{item} {data['id']!r}")
        else:
            break
    if loc and loc[-1] == "id" and names:
        names.pop()  # the id itself is at fault: its own message quotes it
    return ", ".join(names)


def _line_of(node: yaml.Node | None, loc: tuple) -> int:
    """1-based line of the deepest YAML node on `loc` (the parent when the key is missing)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == str(part)), None)
            key_node = next((k for k, v in node.value if k.value == str(part)), None)
            if match is None:
                return line
            node, line = match, key_node.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
