"""`Refused`: an HTTP error whose message a page says in its reader's language (the JSON API
and Open311 keep the English sentence)."""

from __future__ import annotations

from fastapi import HTTPException

from central.text import Said


class Refused(HTTPException):
    def __init__(
        self, status: int, template: str, headers: dict[str, str] | None = None, **values: object
    ) -> None:
        self.said = Said(template, values)
        super().__init__(status, str(self.said), headers=headers)
