"""Query-string filters shared by the pages and the API (empty form fields mean "any")."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends, Query

from central.episodes.reviews import ReviewFilter
from central.models import ReviewState
from central.text import N_
from central.web.errors import Refused


def _day(value: str | None, name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Refused(422, N_("%(name)s must be a date like 2026-03-02"), name=name) from None


def review_filter(
    site: Annotated[str | None, Query(description="Edge node id.")] = None,
    camera: Annotated[str | None, Query(description="Camera id.")] = None,
    state: Annotated[str | None, Query(description="One state, e.g. pending_review.")] = None,
    since: Annotated[str | None, Query(description="First day (UTC), YYYY-MM-DD.")] = None,
    until: Annotated[str | None, Query(description="Last day (UTC), inclusive.")] = None,
    plate: Annotated[
        str | None, Query(max_length=32, description="Any part of the plate, e.g. A6K3.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Rows per page.")] = 200,
    offset: Annotated[int, Query(ge=0, description="Rows to skip (the next page).")] = 0,
) -> ReviewFilter:
    if state and state not in {s.value for s in ReviewState}:
        raise Refused(422, N_("unknown state %(state)s"), state=state)
    return ReviewFilter(
        site=site or None,
        camera=camera or None,
        states=(state,) if state else (),
        since=_day(since, "since"),
        until=_day(until, "until"),
        plate=plate or None,
        limit=limit,
        offset=offset,
    )


FilterDep = Annotated[ReviewFilter, Depends(review_filter)]
