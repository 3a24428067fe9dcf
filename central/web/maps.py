"""The map: the county's sites with their open violations and the open field reports, for
officers and supervisors; and the open reports near a place, which the warden's form shows
while filing so two wardens do not report the same fallen tree twice.

Leaflet is served by the centre itself from the XStatic-Leaflet package (installed from
PyPI with the centre), the tiles from the county's server when one is configured.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central.centre import Centre
from central.clock import utc
from central.labels import STATES
from central.models import OPEN_REPORT_STATES, OPEN_REVIEW_STATES, Episode, WardenReport
from central.places import box_around, distance_m
from central.reports.queries import visible
from central.roles import Actor, Permission
from central.text import N_
from central.web.auth import CentreDep, Reviewer, SessionDep, UserDep
from central.web.errors import Refused
from central.web.i18n import translations
from central.web.templating import page, page_language

pages = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/v1", tags=["map"])

NEARBY_LIMIT = 20


def _report_point(report: WardenReport, name: str, language: str, zone: Any) -> dict[str, Any]:
    gettext = translations(language).gettext
    return {
        "id": report.id,
        "lat": report.lat,
        "long": report.long,
        "category": name,
        "urgent": report.urgent,
        "state": gettext(STATES[report.state]) if report.state in STATES else report.state,
        "at": utc(report.requested_at).astimezone(zone).strftime("%Y-%m-%d %H:%M"),
    }


def _drawing(centre: Centre) -> dict[str, Any]:
    """How a map is drawn: the tiles (None: the plain grid) and where it opens."""
    settings = centre.settings.map
    return {
        "tiles": settings.tile_url,
        "attribution": settings.tile_attribution,
        "max_zoom": settings.max_zoom,
        "home": settings.home,
    }


def background(centre: Centre) -> dict[str, Any]:
    """The warden's picker: the drawing, and the sites as landmarks (on the plain grid they
    are all a warden has to go by)."""
    return {**_drawing(centre), "sites": [site.model_dump() for site in centre.sites]}


def map_points(session: Session, centre: Centre, user: Actor, language: str) -> dict[str, Any]:
    """What the map page draws: sites with their open violations, open reports with a place
    (as far as this user may see them), and how to draw the background."""
    open_by_node = dict(
        session.execute(
            select(Episode.node_id, func.count())
            .where(Episode.state.in_(OPEN_REVIEW_STATES))
            .group_by(Episode.node_id)
        ).all()
    )
    categories = centre.categories.localized(language)
    zone = centre.settings.ui.zone
    query = visible(select(WardenReport), user).where(
        WardenReport.state.in_(OPEN_REPORT_STATES), WardenReport.lat.is_not(None)
    )
    reports = session.scalars(query.order_by(WardenReport.requested_at.desc()).limit(1000))
    return {
        **_drawing(centre),
        "sites": [
            {**site.model_dump(), "open": open_by_node.get(site.node_id, 0)}
            for site in centre.sites
        ],
        "reports": [
            _report_point(r, categories.name_of(r.service_code, r.service_name), language, zone)
            for r in reports
        ],
    }


@pages.get("/map", response_class=HTMLResponse)
def map_page(session: SessionDep, request: Request, user: Reviewer, centre: CentreDep) -> Response:
    """Sites and open reports on the map, with the same points as a list below it (which
    is also what a screen reader and a phone without the map's room read)."""
    language = page_language(request, user)
    return page(request, "map.html", user, points=map_points(session, centre, user, language))


class NearbyReport(BaseModel):
    category: str
    urgent: bool
    state: str = Field(description="In the reader's language.")
    at: str = Field(description="When it was filed, local time.")
    distance_m: int
    lat: float
    long: float


class Nearby(BaseModel):
    radius_m: float
    reports: list[NearbyReport]


@api.get("/reports/nearby", response_model=Nearby)
def nearby_reports(
    session: SessionDep,
    request: Request,
    user: UserDep,
    centre: CentreDep,
    lat: Annotated[float, Query(ge=-90, le=90)],
    long: Annotated[float, Query(ge=-180, le=180)],
) -> dict[str, Any]:
    """Open reports within `map.nearby_m` of a place, nearest first, whoever filed them:
    a warden sees that the pothole is already reported (what, when, its state), not who
    reported it or their words."""
    if not (user.can(Permission.file_reports) or user.can(Permission.handle_reports)):
        raise Refused(403, N_("your role may not read reports"))
    radius = centre.settings.map.nearby_m
    south, north, west, east = box_around(lat, long, radius)
    candidates = session.scalars(
        select(WardenReport).where(
            WardenReport.state.in_(OPEN_REPORT_STATES),
            WardenReport.lat.between(south, north),
            WardenReport.long.between(west, east),
        )
    )
    language = page_language(request, user)
    categories = centre.categories.localized(language)
    zone = centre.settings.ui.zone
    found = []
    for report in candidates:
        metres = distance_m(lat, long, report.lat or 0.0, report.long or 0.0)
        if metres <= radius:
            name = categories.name_of(report.service_code, report.service_name)
            point = _report_point(report, name, language, zone)
            del point["id"]  # not the warden's to open
            found.append({**point, "distance_m": round(metres)})
    found.sort(key=lambda item: item["distance_m"])
    return {"radius_m": radius, "reports": found[:NEARBY_LIMIT]}
