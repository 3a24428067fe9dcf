"""The base of every configuration model (after Frigate's `FrigateBaseModel`)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class StrictModel(BaseModel):
    """A typo is an error, not a silently ignored setting (`extra="forbid"`), and a loaded
    config is a value nobody changes behind the code's back (`frozen`): a change is a new
    config (`model_copy(update=...)`). Fields may be given by name or by alias."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
