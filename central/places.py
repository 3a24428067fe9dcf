"""Where things are: the county's sites (one edge node each) placed on the map, the tile
server the map pages draw on, and distances between reports.

The centre learns node ids from MQTT, never positions, so a county lists its sites in a
YAML file (`map.sites_file`, the same list the police keep of their camera points). Tiles
come from a server the county runs (`map.tile_url`); with none, the pages draw the points on
a plain coordinate grid, so the map works with no internet at all.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated

from pydantic import Field, field_validator

from configbase import StrictModel
from configbase.yaml_files import load_yaml

EARTH_RADIUS_M = 6_371_000.0
Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class SitePlace(StrictModel):
    """One site: the edge node's id as it reports over MQTT, a name people know, a place."""

    node_id: str = Field(min_length=1, max_length=128, title="Node id")
    name: str = Field(min_length=1, max_length=200, title="Name", description="As people say it.")
    lat: Latitude = Field(title="Latitude (WGS-84)")
    long: Longitude = Field(title="Longitude (WGS-84)")


class SiteList(StrictModel):
    sites: list[SitePlace] = Field(default_factory=list)

    @field_validator("sites")
    @classmethod
    def _one_place_per_node(cls, sites: list[SitePlace]) -> list[SitePlace]:
        seen: set[str] = set()
        for site in sites:
            if site.node_id in seen:
                raise ValueError(f"node {site.node_id!r} is listed twice")
            seen.add(site.node_id)
        return sites


class MapConfig(StrictModel):
    """The map pages (part of `CentralSettings`)."""

    tile_url: str | None = Field(
        None,
        pattern=r"^(https?://|/)\S*\{z\}\S*\{x\}\S*\{y\}",
        title="Tile server",
        description="URL template of the county's own tile server, e.g. "
        "http://tiles.county.lan/{z}/{x}/{y}.png. Empty: points on a plain coordinate grid.",
    )
    tile_attribution: str = Field(
        "", max_length=300, title="Tile credit", description="Shown in the map's corner."
    )
    max_zoom: int = Field(18, ge=1, le=22, title="Deepest zoom", description="Of the tiles.")
    sites_file: Path | None = Field(
        None,
        title="Sites file",
        description="YAML list of sites (node_id, name, lat, long); empty: no sites on the map.",
    )
    home: tuple[Latitude, Longitude] | None = Field(
        None,
        title="Home",
        description="[lat, long] the maps open on when they have no point to show "
        "(the county seat); empty: the whole country.",
    )
    nearby_m: float = Field(
        500,
        gt=0,
        le=50_000,
        title="Nearby",
        description="While filing, open reports this close are shown, to avoid duplicates.",
    )

    def load_sites(self) -> list[SitePlace]:
        """The sites; `InvalidFile` names the file, line and key of a problem."""
        if self.sites_file is None:
            return []
        return load_yaml(self.sites_file, SiteList, what="sites file").sites


def distance_m(lat1: float, long1: float, lat2: float, long2: float) -> float:
    """Great-circle distance (haversine): plenty for "is it the same pothole"."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(long2 - long1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(min(1.0, a)))


def box_around(lat: float, long: float, metres: float) -> tuple[float, float, float, float]:
    """(south, north, west, east) of a box holding every point within `metres`: the database
    narrows with it, `distance_m` decides."""
    dlat = math.degrees(metres / EARTH_RADIUS_M)
    shrink = max(math.cos(math.radians(lat)), 1e-6)
    dlong = min(180.0, dlat / shrink)
    return lat - dlat, lat + dlat, long - dlong, long + dlong
