"""Open311 GeoReport v2 shapes: the service list, a service definition and a service
request document, built from RoadGuard's categories and reports.

Open311 knows only `open` and `closed`; RoadGuard's richer state, urgency and escalation go
in `extended_attributes` (the name several Open311 servers use for extensions), so a plain
Open311 client still reads a valid document and a RoadGuard client reads everything.
"""

from __future__ import annotations

from typing import Any

from central.models import OPEN_REPORT_STATES, WardenReport
from central.reports.categories import ReportCategories, ReportCategory


def service_list(categories: ReportCategories) -> list[dict[str, Any]]:
    return [
        {
            "service_code": c.code,
            "service_name": c.name,
            "description": c.description,
            "metadata": bool(c.attributes),
            "type": "realtime",
            "keywords": ", ".join(c.keywords),
            "group": c.group,
            "urgency": c.urgency,  # extension: what the squad's deadline depends on
        }
        for c in categories.categories
    ]


def service_definition(category: ReportCategory) -> dict[str, Any]:
    return {
        "service_code": category.code,
        "attributes": [
            {
                "variable": True,
                "code": a.code,
                "datatype": a.datatype.value,
                "required": a.required,
                "datatype_description": a.datatype_description,
                "order": n,
                "description": a.description,
                "values": [{"key": v.key, "name": v.name} for v in a.values],
            }
            for n, a in enumerate(category.attributes, start=1)
        ],
    }


def open311_status(state: str) -> str:
    return "open" if state in OPEN_REPORT_STATES else "closed"


def media_path(report_id: int) -> str:
    return f"/reports/{report_id}/media"


def request_document(report: WardenReport, base_url: str = "") -> dict[str, Any]:
    """One service request as Open311 lists it; `base_url` makes `media_url` absolute."""
    return {
        "service_request_id": str(report.id),
        "status": open311_status(report.state),
        "status_notes": report.status_notes or None,
        "service_name": report.service_name,
        "service_code": report.service_code,
        "description": report.description,
        "agency_responsible": report.squad,
        "service_notice": None,
        "requested_datetime": report.requested_at.isoformat(),
        "updated_datetime": report.updated_at.isoformat(),
        "expected_datetime": report.ack_deadline.isoformat() if report.ack_deadline else None,
        "address": report.address_string,
        "address_id": None,
        "zipcode": None,
        "lat": report.lat,
        "long": report.long,
        "media_url": base_url.rstrip("/") + media_path(report.id) if report.media_sha256 else None,
        "extended_attributes": {
            "state": report.state,
            "urgent": report.urgent,
            "attributes": report.attributes or {},
            "location_source": report.location_source,
            "reporter": report.reporter,
            "township": report.township,
            "squad": report.squad,
            "escalation_level": report.escalation_level,
            "escalated_to": report.escalated_to,
            "acknowledged_at": report.acknowledged_at.isoformat()
            if report.acknowledged_at
            else None,
            "acknowledged_by": report.acknowledged_by,
        },
    }
