"""The OpenAPI document, made true to the code.

FastAPI documents what it sees in a route's signature: a 200 and its own 422. The centre
answers more than that, in two shapes: the JSON API's `{"detail": "..."}` (and FastAPI's
validation list for a malformed request) and Open311's list of `{"code", "description"}`
(which answers 400, never 422, for a malformed request). Several query parameters are
parsed by hand (comma lists, dates, states), so their signature says "a string" where the
code accepts far less, and the Open311 POST reads its body itself (multipart with a photo, a
url-encoded form or JSON), so FastAPI sees no body at all. `true_document` fills all of that
in after FastAPI has built the document; schemathesis (tests/central/test_openapi_fuzz.py)
checks the result against a running centre for every role.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from central.models import MAX_REPORT_ID, ReportState, ReviewState
from central.reports.workflow import TRANSITIONS

ERROR = {
    "type": "object",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
}
OPEN311_ERRORS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"code": {"type": "integer"}, "description": {"type": "string"}},
        "required": ["code", "description"],
    },
}
REASONS = {
    "400": "The request is not acceptable (the message says why).",
    "401": "Not logged in (or, for Open311, no valid api_key).",
    "403": "Logged in, but this role may not do this (or the CSRF token is missing).",
    "404": "No such thing, or not one this user may see.",
    "409": "The thing is not in a state that allows this (e.g. already decided).",
    "413": "The body is over its limit (a photo: reports.max_media_bytes).",
    "415": "Not an accepted body type, or the upload is not an accepted photo format.",
    "422": "The request does not fit the parameters' or body's schema, or a rule between "
    "them (e.g. until before since).",
    "429": "Too many wrong passwords for this account or from this address: wait the "
    "Retry-After seconds (central.throttle).",
    "503": "The photo store is full or down; nothing was stored. See Retry-After.",
}
API_ERRORS = ("400", "401", "403", "404", "409", "413", "422")
OPEN311_ERRORS_OF = {
    ("get", "/open311/v2/services.json"): ("400",),
    ("get", "/open311/v2/services/{service_code}.json"): ("400", "404"),
    ("get", "/open311/v2/requests.json"): ("400", "401", "403", "413"),
    ("get", "/open311/v2/requests/{service_request_id}.json"): ("400", "401", "403", "404"),
    ("post", "/open311/v2/requests.json"): ("400", "401", "403", "413", "415", "503"),
}
PUBLIC_API = {("post", "/api/v1/session"), ("delete", "/api/v1/session")}
THROTTLED = {("post", "/api/v1/session")}  # a login may be refused for a while: 429

_DAY_OR_EMPTY = {
    "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "maxLength": 0}]
}
_STATUS_WORDS = ["open", "closed", *(s.value for s in ReportState)]
_STATUS_WORD = "(" + "|".join(_STATUS_WORDS) + ")"
_ID = "[1-9][0-9]{0,8}"  # within MAX_REPORT_ID
assert int("9" * 9) <= MAX_REPORT_ID

PARAMETERS: dict[tuple[str, str], dict[str, Any]] = {
    # The review filters: the pages send empty fields for "any".
    ("/api/v1/reviews", "state"): {"type": "string", "enum": ["", *(s.value for s in ReviewState)]},
    ("/api/v1/episodes", "state"): {
        "type": "string",
        "enum": ["", *(s.value for s in ReviewState)],
    },
    ("/api/v1/reviews", "since"): _DAY_OR_EMPTY,
    ("/api/v1/reviews", "until"): _DAY_OR_EMPTY,
    ("/api/v1/episodes", "since"): _DAY_OR_EMPTY,
    ("/api/v1/episodes", "until"): _DAY_OR_EMPTY,
    ("/api/v1/reports/{report_id}/{action}", "report_id"): {
        "type": "integer",
        "minimum": 1,
        "maximum": MAX_REPORT_ID,
    },
    ("/api/v1/reports/{report_id}/{action}", "action"): {
        "type": "string",
        "enum": sorted(TRANSITIONS),
    },
    ("/open311/v2/requests.json", "status"): {
        "type": "string",
        "pattern": f"^{_STATUS_WORD}(,{_STATUS_WORD})*$",
        "description": "open, closed or a RoadGuard state; several with commas.",
    },
    ("/open311/v2/requests.json", "service_request_id"): {
        "type": "string",
        "pattern": f"^{_ID}(,{_ID})*$",
        "description": "Report ids, with commas.",
    },
    ("/open311/v2/requests.json", "start_date"): {"type": "string", "format": "date-time"},
    ("/open311/v2/requests.json", "end_date"): {"type": "string", "format": "date-time"},
}

_SUBMISSION = {
    "service_code": {"type": "string", "minLength": 1, "description": "A code of /services.json."},
    "description": {"type": "string", "maxLength": 4000},
    "lat": {"type": "number", "minimum": -90, "maximum": 90},
    "long": {"type": "number", "minimum": -180, "maximum": 180},
    "address_string": {"type": "string", "maxLength": 256},
    "api_key": {"type": "string", "description": "Or Authorization: Bearer, or ?api_key="},
}
OPEN311_BODY = {
    "required": True,
    "description": "A report: a category (`service_code`), its answers (`attribute[code]`, or "
    "`attributes` in JSON), and a place (a photo with GPS, lat/long, or address_string). "
    "A photo only in multipart, as `media`.",
    "content": {
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    **_SUBMISSION,
                    "media": {"type": "string", "format": "binary"},
                },
                "required": ["service_code"],
                "additionalProperties": {"type": "string"},
            }
        },
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": _SUBMISSION,
                "required": ["service_code"],
                "additionalProperties": {"type": "string"},
            }
        },
        "application/json": {
            "schema": {
                "type": "object",
                "properties": {
                    **_SUBMISSION,
                    "attributes": {"type": "object", "additionalProperties": True},
                },
                "required": ["service_code"],
            }
        },
    },
}


def _response(reason: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": REASONS[reason], "content": {"application/json": {"schema": schema}}}


def true_document(document: dict[str, Any]) -> dict[str, Any]:
    """`document` (FastAPI's), with the answers, parameters and bodies the code really has."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR
    schemas["Open311Errors"] = OPEN311_ERRORS
    error = {"$ref": "#/components/schemas/Error"}
    open311 = {"$ref": "#/components/schemas/Open311Errors"}
    validation = {"anyOf": [{"$ref": "#/components/schemas/HTTPValidationError"}, error]}
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            for parameter in operation.get("parameters", []):
                schema = PARAMETERS.get((path, parameter["name"]))
                if schema is not None:
                    parameter["schema"] = schema
            if path.startswith("/open311/"):
                responses.pop("422", None)  # Open311 answers 400 for a malformed request
                for status in OPEN311_ERRORS_OF.get((method, path), ()):
                    responses[status] = _response(status, open311)
                if (method, path) == ("post", "/open311/v2/requests.json"):
                    operation["requestBody"] = OPEN311_BODY
            elif path.startswith("/api/"):
                public = (method, path) in PUBLIC_API
                for status in API_ERRORS:
                    if status == "403" and public:
                        continue
                    responses.setdefault(status, _response(status, error))
                if (method, path) in THROTTLED:
                    responses["429"] = {
                        **_response("429", error),
                        "headers": {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}},
                    }
                if "422" in responses:
                    responses["422"] = _response("422", validation)
    return document


def install(app: FastAPI) -> None:
    """Serve `true_document` of the app's generated document at /openapi.json."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = true_document(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
