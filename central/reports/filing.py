"""Filing a warden report: check everything, then store the photo and the row together.

Everything that can be wrong with a submission (category, attributes, location, the photo)
is checked before anything is written, and all problems are reported at once, so a warden
on a slow link fixes the form in one round trip. Then the photo goes to the evidence store
and the row to the database; if the database refuses, a photo this request added is removed
again: nothing is stored half-way.

Location: a GPS position in the photo's EXIF wins (the photo shows where the thing is, even
when the warden has walked on); else `lat`/`long` (the phone's geolocation, or a place
tapped on the map); else the typed `address_string`. One of the three is required.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from central.audit import move
from central.centre import Centre
from central.evidence import sha256_of
from central.models import ReportState, WardenReport
from central.reports.categories import AnswerInvalid
from central.reports.media import MediaRejected, Photo, check_photo
from central.reports.open311 import request_document
from central.roles import Actor
from central.text import N_, Said

MAX_DESCRIPTION = 4000  # Open311's limit
MAX_ADDRESS = 256


class EvidenceUnavailable(Exception):
    """The photo could not be stored (disk full, store down): nothing was filed; try later."""

    retry_after_s = 300
    said = Said(N_("the photo store is full or unavailable; nothing was filed, try again later"))


@dataclass
class Submission:
    """What a client sent, as text (forms) or JSON values; nothing checked yet."""

    service_code: str | None = None
    description: str = ""
    lat: Any = None
    long: Any = None
    address_string: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    media: bytes | None = None
    picked_on_map: bool = False  # lat/long are a tap on the map, not the phone's fix


@dataclass(frozen=True)
class Problem:
    field: str  # service_code, attribute[<code>], location, media, description
    said: Said  # in English for Open311; the form says it in its reader's language
    status: int = 400

    @property
    def message(self) -> str:
        return str(self.said)

    @property
    def open311(self) -> dict[str, Any]:
        return {"code": self.status, "description": f"{self.field}: {self.message}"}


class ReportRejected(Exception):
    """A submission with problems; nothing was stored."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = problems

    @property
    def status(self) -> int:
        """413/415 when the photo is the problem (the client must change the file), else 400."""
        for problem in self.problems:
            if problem.status != 400:
                return problem.status
        return 400


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip()) or value == []


def _coordinate(value: Any, name: str, bound: float, problems: list[Problem]) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        problems.append(Problem("location", Said(N_("%(name)s is not a number"), {"name": name})))
        return None
    if not math.isfinite(number) or abs(number) > bound:
        said = Said(N_("%(name)s must be within ±%(bound)g"), {"name": name, "bound": bound})
        problems.append(Problem("location", said))
        return None
    return number


@dataclass(frozen=True)
class CheckedReport:
    category_code: str
    attributes: dict[str, Any]
    description: str
    lat: float | None
    long: float | None
    address_string: str | None
    location_source: str
    photo: Photo | None


def check_submission(centre: Centre, sub: Submission) -> CheckedReport:
    """The submission, checked and typed; ReportRejected lists every problem."""
    problems: list[Problem] = []
    config = centre.settings.reports
    category = None
    code = (sub.service_code or "").strip()
    if not code:
        problems.append(Problem("service_code", Said(N_("missing: pick a category"))))
    else:
        category = centre.categories.get(code)
        if category is None:
            said = Said(N_("unknown category %(code)s"), {"code": code})
            problems.append(Problem("service_code", said))
    attributes: dict[str, Any] = {}
    if category is not None:
        known = {a.code for a in category.attributes}
        for extra in sorted(set(sub.attributes) - known):
            said = Said(N_("not a question of this category"))
            problems.append(Problem(f"attribute[{extra}]", said))
        for attribute in category.attributes:
            raw = sub.attributes.get(attribute.code)
            if _blank(raw):
                if attribute.required:
                    name = f"attribute[{attribute.code}]"
                    problems.append(Problem(name, Said(N_("an answer is needed"))))
                continue
            try:
                attributes[attribute.code] = attribute.parse(raw)
            except AnswerInvalid as exc:
                problems.append(Problem(f"attribute[{attribute.code}]", exc.said))
    description = (sub.description or "").strip()
    if len(description) > MAX_DESCRIPTION:
        said = Said(N_("at most %(n)d characters"), {"n": MAX_DESCRIPTION})
        problems.append(Problem("description", said))
    photo = None
    if sub.media is not None:  # an empty photo part is refused, not dropped
        try:
            photo = check_photo(
                sub.media,
                max_bytes=config.max_media_bytes,
                max_pixels=config.max_media_pixels,
                formats=config.media_formats,
            )
        except MediaRejected as exc:
            problems.append(Problem("media", exc.said, exc.status))
    lat = lon = None
    source = ""
    address = (sub.address_string or "").strip() or None
    if address and len(address) > MAX_ADDRESS:
        said = Said(N_("at most %(n)d characters"), {"n": MAX_ADDRESS})
        problems.append(Problem("address_string", said))
    if photo is not None and photo.gps is not None:
        lat, lon = photo.gps
        source = "exif"
    elif not _blank(sub.lat) or not _blank(sub.long):
        if _blank(sub.lat) or _blank(sub.long):
            problems.append(Problem("location", Said(N_("lat and long go together"))))
        else:
            lat = _coordinate(sub.lat, "lat", 90, problems)
            lon = _coordinate(sub.long, "long", 180, problems)
            source = "map" if sub.picked_on_map else "device"
    elif address:
        source = "typed"
    elif not any(p.field == "media" for p in problems):
        problems.append(
            Problem(
                "location",
                Said(N_("missing: the place (phone position, typed, or a photo with GPS)")),
            )
        )
    if problems:
        raise ReportRejected(problems)
    assert category is not None
    return CheckedReport(
        category.code, attributes, description, lat, lon, address, source or "typed", photo
    )


def file_report(centre: Centre, reporter: Actor, sub: Submission) -> dict[str, Any]:
    """Check and store one report; returns its Open311 document. Urgent reports get their
    acknowledgement deadline, wake the scheduler and alert the squad (after the commit)."""
    checked = check_submission(centre, sub)
    category = centre.categories.get(checked.category_code)
    assert category is not None
    now = centre.clock.now()
    added_sha: str | None = None
    photo = checked.photo
    if photo is not None:
        try:
            existed = centre.evidence.exists(sha256_of(photo.data))
            digest = centre.evidence.put(photo.data)
        except OSError as exc:  # a full disk, a store that is down: the warden tries later
            raise EvidenceUnavailable(str(exc)) from exc
        added_sha = None if existed else digest
    try:
        with centre.db.session() as session:
            report = WardenReport(
                service_code=category.code,
                service_name=category.name,
                urgent=category.urgent,
                state="",
                description=checked.description,
                attributes=checked.attributes,
                lat=checked.lat,
                long=checked.long,
                address_string=checked.address_string,
                location_source=checked.location_source,
                media_sha256=sha256_of(photo.data) if photo else None,
                media_type=photo.content_type if photo else None,
                media_size=len(photo.data) if photo else None,
                reporter=reporter.username,
                township=reporter.township,
                squad=reporter.squad,
                requested_at=now,
                updated_at=now,
                ack_deadline=now + timedelta(seconds=category.ack_deadline_s)
                if category.urgent and not category.handled_on_the_spot
                else None,
                escalation_level=0,
                status_notes="",
            )
            session.add(report)
            session.flush()
            move(session, report, ReportState.new, reporter.username, now, "filed")
            if category.handled_on_the_spot:
                report.closed_at = now
                report.closed_by = reporter.username
                move(
                    session,
                    report,
                    ReportState.resolved,
                    reporter.username,
                    now,
                    "handled_on_the_spot",
                )
            document = request_document(report)
    except BaseException:
        if added_sha is not None:
            centre.evidence.delete(added_sha)
        raise
    if report.ack_deadline is not None:
        centre.deadline_added(report.ack_deadline)
        centre.alerts.publish("new", reporter.squad, document, now)
    return document
