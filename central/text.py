"""`N_`: marks an English string where it is defined, for the message catalogues; it is
translated where it is shown (`central.web.i18n`). `Said`: a message kept as its English
template and values, so a page can say it in its reader's language. A leaf, so any layer
may mark text."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any


def N_(message: str) -> str:
    return message


@dataclass(frozen=True)
class Said:
    """A message as a template (`N_`-marked, %(name)s placeholders) and its values."""

    template: str
    values: Mapping[str, Any] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.template % self.values

    def in_language(self, gettext: Callable[[str], str]) -> str:
        return gettext(self.template) % self.values
