"""Read a YAML file into a pydantic model; every problem says file:line: key: what.

An installer on a ladder with a laptop should see which key on which line to fix, so each
pydantic error location is walked back through the YAML node tree to the line of its key
(the parent's line when the key is missing). Items of a list that carry an `id`, a `code` or
a `name` are named by it ("camera 'cam1', zone 'footpath'"): people know their zones by name, not by
position.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Model = TypeVar("Model", bound=BaseModel)
Location = tuple[Any, ...]

# A check across fields (raised on the whole model) that is about one key puts that key at
# the start of its message: "actors.0.steps.2.at: 2 s is before the previous step ends".
_KEYED_MESSAGE = re.compile(r"^([\w-]+(?:\.[\w-]+)+): (.*)$", re.S)


# What an item of a list is known by, in this order: a camera's id, a category's code, an
# actor's name.
_LABELS = ("id", "code", "name")


class InvalidFile(ValueError):
    """A file that cannot be used; `problems` has one line per problem, with its line."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        self.problems = problems or []
        super().__init__("\n".join([message, *self.problems]))


def load_yaml(
    path: str | Path,
    model: type[Model],
    *,
    what: str = "file",
    error: type[InvalidFile] = InvalidFile,
    defaults: dict[str, Any] | None = None,
    clean_location: Callable[[Location], Location] | None = None,
) -> Model:
    """The model in the YAML file at `path`; `error` (an `InvalidFile`) listing every problem
    otherwise. See `parse_yaml`."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read: {exc.strerror or exc}") from exc
    return parse_yaml(
        text,
        model,
        path,
        what=what,
        error=error,
        defaults=defaults,
        clean_location=clean_location,
    )


def parse_yaml(
    text: str,
    model: type[Model],
    path: str | Path = "<yaml>",
    *,
    what: str = "file",
    error: type[InvalidFile] = InvalidFile,
    defaults: dict[str, Any] | None = None,
    clean_location: Callable[[Location], Location] | None = None,
) -> Model:
    """Validate YAML `text` as `model`. `what` names the kind of file in the message ("site
    config"); `defaults` fill keys the file leaves out; `clean_location` rewrites pydantic's
    error locations (to drop the tags it puts in them for tagged unions)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = mark.line + 1 if mark else "?"
        problem = getattr(exc, "problem", None) or str(exc)
        raise error(
            f"{path}: invalid {what}", [f"  {path}:{where}: not valid YAML: {problem}"]
        ) from exc
    if not isinstance(data, dict):
        raise error(f"{path}: invalid {what}", [f"  {path}: expected a mapping of settings"])
    if defaults:
        data = {**defaults, **data}
    return validate_data(
        data, model, str(path), what=what, error=error, root=root, clean_location=clean_location
    )


def validate_data(
    data: dict[str, Any],
    model: type[Model],
    where: str,
    *,
    what: str = "file",
    error: type[InvalidFile] = InvalidFile,
    root: yaml.Node | None = None,
    clean_location: Callable[[Location], Location] | None = None,
) -> Model:
    """Validate already-parsed `data` (built in Python, or read from YAML whose node tree is
    `root`), with the same messages as a file."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [_problem(err, data, root, where, clean_location) for err in exc.errors()]
        raise error(f"{where}: invalid {what}", problems) from exc


def _problem(
    err: Any,
    data: Any,
    root: yaml.Node | None,
    where: str,
    clean_location: Callable[[Location], Location] | None,
) -> str:
    loc = tuple(err["loc"])
    if clean_location is not None:
        loc = clean_location(loc)
    message = err["msg"].removeprefix("Value error, ")
    keyed = _KEYED_MESSAGE.match(message)
    if not loc and keyed:
        loc = tuple(int(p) if p.isdigit() else p for p in keyed.group(1).split("."))
        message = keyed.group(2)
    key = ".".join(str(p) for p in loc) or "(top)"
    named = _named(data, loc)
    text = f"{key}: {named + ': ' if named else ''}{message}"
    return f"  {where}:{line_of(root, loc)}: {text}" if root is not None else f"  {where}: {text}"


def _named(data: Any, loc: Location) -> str:
    """The list items on `loc` by their label: "camera 'cam1', zone 'footpath'"."""
    names, parent = [], None
    for part in loc:
        if isinstance(data, dict):
            parent, data = part, data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and part < len(data):
            data = data[part]
            label = next((data[k] for k in _LABELS if isinstance(data, dict) and k in data), None)
            if isinstance(label, str) and isinstance(parent, str):
                names.append(f"{_singular(parent)} {label!r}")
        else:
            break
    if loc and loc[-1] in _LABELS and names:
        names.pop()  # the id itself is at fault: its own message quotes it
    return ", ".join(names)


def _singular(key: str) -> str:
    """`cameras` -> camera, `categories` -> category: one item of a list setting."""
    return key[:-3] + "y" if key.endswith("ies") else key.removesuffix("s")


def line_of(node: yaml.Node | None, loc: Location) -> int:
    """1-based line of the key deepest on `loc` (the parent's when the key is missing)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            pair = next(((k, v) for k, v in node.value if k.value == str(part)), None)
            if pair is None:
                return line
            node, line = pair[1], pair[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(node.value):
                return line
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            return line
    return line
