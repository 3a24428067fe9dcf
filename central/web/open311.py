"""Open311 GeoReport v2 endpoints (JSON): services, service definitions, requests.

Authentication, for the request endpoints (the service list is public, as in Open311):
- an API key (`roadguard central user token <user>`) as the Open311 `api_key` parameter or
  `Authorization: Bearer <key>`; no CSRF token, since no browser sends it by itself;
- or the centre's session cookie, as the warden's page uses it; then a POST must carry the
  session's CSRF token (`X-CSRF-Token` header or `csrf_token` field), like every other POST.

Errors come in Open311's shape, a list of `{"code": <http status>, "description": ...}`.
"""

from __future__ import annotations

import hmac
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from central.api_keys import user_for_key
from central.centre import Centre
from central.clock import utc
from central.episodes.workflow import WorkflowError
from central.models import OPEN_REPORT_STATES, ReportState
from central.reports.filing import ReportRejected, Submission, file_report
from central.reports.open311 import request_document, service_definition, service_list
from central.reports.queries import (
    MAX_REPORT_ID,
    ReportFilter,
    get_visible,
    is_report_id,
    report_list,
)
from central.roles import Permission
from central.web.auth import CSRF_FIELD, CSRF_HEADER, Actor, CentreDep, SessionDep, optional_user
from central.web.forms import attribute_answers, form_submission
from central.web.i18n import LANGUAGES
from central.web.limits import FORM_SLACK_BYTES, BodyTooLarge, lower_limit

router = APIRouter(prefix="/open311/v2", tags=["open311"])


class Open311Error(Exception):
    """Answered as Open311's error list by the app's handler."""

    def __init__(self, status: int, *descriptions: str) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = descriptions or ("error",)


def open311_errors(
    status: int, descriptions: list[str] | tuple[str, ...], headers: dict | None = None
) -> JSONResponse:
    body = [{"code": status, "description": d} for d in descriptions]
    return JSONResponse(body, status, headers=headers)


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _key_user(centre: Centre, key: str) -> Actor:
    with centre.db.session() as session:
        user = user_for_key(session, key)
        if user is None:
            raise Open311Error(401, "api_key is not valid")
        return Actor.of(user)


def _session_user(request: Request, centre: Centre) -> Actor | None:
    with centre.db.session() as session:
        return optional_user(request, session)


async def caller(request: Request, body: dict[str, Any] | FormData | None = None) -> Actor:
    """The API key's user, else the session's (with its CSRF token on a POST)."""
    centre: Centre = request.app.state.centre
    key = _bearer(request) or request.query_params.get("api_key")
    if key is None and body is not None:
        value = body.get("api_key")
        key = value if isinstance(value, str) and value else None
    if key:
        return await run_in_threadpool(_key_user, centre, key)
    user = await run_in_threadpool(_session_user, request, centre)
    if user is None:
        raise Open311Error(401, "log in, or send an api_key")
    if request.method == "POST":
        expected = request.session.get("csrf")
        sent = request.headers.get(CSRF_HEADER)
        if sent is None and body is not None:
            value = body.get(CSRF_FIELD)
            sent = value if isinstance(value, str) else None
        if not expected or not sent or not hmac.compare_digest(expected, sent):
            raise Open311Error(403, "missing or wrong CSRF token (or use an api_key)")
    return user


async def get_caller(request: Request) -> Actor:
    return await caller(request)


Caller = Annotated[Actor, Depends(get_caller)]


def _language(locale: str | None, centre: Centre) -> str:
    """`locale` (zh_CN, zh-CN, zh, en...) as one of the centre's languages; else its default."""
    wanted = (locale or "").replace("-", "_").lower()
    for language in LANGUAGES:
        if wanted and (language.lower() == wanted or language.lower().split("_")[0] == wanted):
            return language
    return centre.settings.ui.default_language


LocaleQuery = Annotated[
    str | None, Query(description="Language of the names and questions: zh_CN or en.")
]


@router.get("/services.json")
def services(
    centre: CentreDep, jurisdiction_id: str | None = None, locale: LocaleQuery = None
) -> list[dict[str, Any]]:
    """The report categories (Open311 services) of this county, in `locale`."""
    return service_list(centre.categories.localized(_language(locale, centre)))


@router.get("/services/{service_code}.json")
def service(
    service_code: str,
    centre: CentreDep,
    jurisdiction_id: str | None = None,
    locale: LocaleQuery = None,
) -> dict[str, Any]:
    """A category's attributes (Open311 service definition), in `locale`."""
    category = centre.categories.localized(_language(locale, centre)).get(service_code)
    if category is None:
        raise Open311Error(404, f"service_code {service_code!r} not found")
    return service_definition(category)


async def _submission(request: Request, centre: Centre) -> tuple[Submission, Any]:
    """The body, read within the route's limit (`central.web.limits`)."""
    limit = centre.settings.reports.max_media_bytes
    kind = request.headers.get("content-type", "")
    if kind.startswith("application/json"):
        body = _json_object(await request.body())
        if body.get("media_url"):
            raise Open311Error(400, "media_url is not fetched; upload the photo as `media`")
        attributes = dict(body.get("attributes") or {})
        attributes.update(attribute_answers(list(body.items())))
        return Submission(
            service_code=body.get("service_code"),
            description=body.get("description") or "",
            lat=body.get("lat"),
            long=body.get("long"),
            address_string=body.get("address_string"),
            attributes=attributes,
        ), body
    if kind.startswith(("multipart/form-data", "application/x-www-form-urlencoded")):
        form = await request.form(max_files=1, max_fields=200)
        if form.get("media_url"):
            raise Open311Error(400, "media_url is not fetched; upload the photo as `media`")
        return await form_submission(form, limit), form
    raise Open311Error(415, "send multipart/form-data, a url-encoded form, or JSON")


ANONYMOUS_BODY = (
    "log in, or send an api_key (in the Authorization header or the query string when the "
    "body is over 256 KB, as a photo is)"
)


async def _identify_before_the_body(request: Request, centre: Centre) -> None:
    """Nobody uploads anonymously: a key in the header or query is checked (401) before a
    byte of the body is read, and so is the session cookie. A caller with neither may still
    send Open311's `api_key` form field, in a body of at most `FORM_SLACK_BYTES` (no photo):
    a larger one, or one without a key, is a 401."""
    if _bearer(request) or request.query_params.get("api_key"):
        await caller(request)  # an unknown key: 401 now
        return
    if await run_in_threadpool(_session_user, request, centre) is not None:
        return  # the CSRF token may be in the body; `caller` checks it after
    lower_limit(request.scope, FORM_SLACK_BYTES)
    try:
        _, body = await _submission(request, centre)
    except (BodyTooLarge, Open311Error):
        raise Open311Error(401, ANONYMOUS_BODY) from None
    await caller(request, body)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


# A JSON body's fields and the types they may have (lat/long: a number, or one as text).
JSON_FIELDS: dict[str, tuple[type, ...]] = {
    "service_code": (str,),
    "description": (str,),
    "address_string": (str,),
    "lat": (int, float, str),
    "long": (int, float, str),
    "attributes": (dict,),
    "media_url": (str,),
    "api_key": (str,),
    CSRF_FIELD: (str,),
    "jurisdiction_id": (str,),
}


def _json_object(raw: bytes) -> dict[str, Any]:
    """The body as a JSON object of the fields' types; NaN and Infinity, which Python's
    parser takes but JSON has not, are refused (they would be stored as non-standard JSON)."""
    try:
        body = json.loads(raw or b"{}", parse_constant=_not_json)
    except ValueError as exc:
        raise Open311Error(400, f"the body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise Open311Error(400, "the body must be a JSON object")
    names = {str: "a string", int: "a number", float: "a number", dict: "an object"}
    wrong = [
        f"{name}: must be {' or '.join(dict.fromkeys(names[t] for t in kinds))}"
        for name, kinds in JSON_FIELDS.items()
        if body.get(name) is not None and not isinstance(body[name], kinds)
    ]
    if wrong:
        raise Open311Error(400, *wrong)
    return body


@router.post("/requests.json", status_code=201)
async def create_request(request: Request, jurisdiction_id: str | None = None) -> JSONResponse:
    """File a report (multipart with an optional `media` photo, or JSON without one)."""
    centre: Centre = request.app.state.centre
    await _identify_before_the_body(request, centre)
    submission, body = await _submission(request, centre)
    user = await caller(request, body)
    if not user.can(Permission.file_reports):
        raise Open311Error(403, f"a {user.role} does not file reports")
    try:
        document = await run_in_threadpool(file_report, centre, user, submission)
    except ReportRejected as exc:
        return open311_errors(exc.status, [p.open311["description"] for p in exc.problems])
    notice = "Urgent: the squad has been alerted." if document["expected_datetime"] else "Received."
    return JSONResponse(
        [
            {
                "service_request_id": document["service_request_id"],
                "service_notice": notice,
                "account_id": None,
            }
        ],
        status_code=201,
    )


def _when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        text = value.strip()
        if text[-1:] in ("Z", "z"):  # RFC 3339 allows either
            text = text[:-1] + "+00:00"
        return utc(datetime.fromisoformat(text[:10] + "T" + text[11:] if len(text) > 10 else text))
    except ValueError:
        raise Open311Error(400, f"{name}: not an ISO 8601 time: {value!r}") from None


def _states(status: str | None) -> tuple[str, ...]:
    states: list[str] = []
    for word in (status or "").split(","):
        word = word.strip()
        if not word:
            continue
        if word == "open":
            states += OPEN_REPORT_STATES
        elif word == "closed":
            states += (ReportState.resolved, ReportState.rejected)
        elif word in {s.value for s in ReportState}:
            states.append(word)
        else:
            raise Open311Error(400, f"status: {word!r} is not open, closed or a RoadGuard state")
    return tuple(dict.fromkeys(states))


def _ids(value: str | None) -> tuple[int, ...]:
    try:
        ids = tuple(int(v) for v in (value or "").split(",") if v.strip())
    except ValueError:
        raise Open311Error(400, f"service_request_id: not a list of ids: {value!r}") from None
    if not all(is_report_id(i) for i in ids):
        raise Open311Error(400, f"service_request_id: ids are 1 to {MAX_REPORT_ID}: {value!r}")
    return ids


@router.get("/requests.json")
def list_requests(
    session: SessionDep,
    request: Request,
    user: Caller,
    centre: CentreDep,
    service_request_id: str | None = None,
    service_code: str | None = None,
    status: Annotated[str | None, Query(description="open, closed or a state; commas")] = None,
    start_date: str | None = None,
    end_date: str | None = None,
    jurisdiction_id: str | None = None,
) -> list[dict[str, Any]]:
    """Reports this caller may see (a warden: their own), newest first."""
    flt = ReportFilter(
        ids=_ids(service_request_id),
        service_codes=tuple(c for c in (service_code or "").split(",") if c),
        states=_states(status),
        start=_when(start_date, "start_date"),
        end=_when(end_date, "end_date"),
    )
    if flt.start and flt.end and flt.end < flt.start:
        raise Open311Error(400, "end_date is before start_date")
    base = str(request.base_url)
    return [request_document(r, base) for r in report_list(session, user, flt)]


@router.get("/requests/{service_request_id}.json")
def get_request(
    session: SessionDep, service_request_id: str, request: Request, user: Caller, centre: CentreDep
) -> list[dict[str, Any]]:
    """One report, as a one-item list (Open311's shape)."""
    try:
        report_id = _ids(service_request_id)
    except Open311Error:
        report_id = ()
    if len(report_id) != 1:
        raise Open311Error(404, f"no request {service_request_id!r}")
    try:
        report = get_visible(session, report_id[0], user)
    except WorkflowError as exc:
        raise Open311Error(exc.status, str(exc)) from None
    return [request_document(report, str(request.base_url))]
