"""Who may do what. One table, read by the workflow and by the web layer alike, so the JSON
API and the pages cannot disagree about a warden trying to issue a ticket."""

from __future__ import annotations

import enum

from central.models import Role


class Permission(enum.StrEnum):
    view_reviews = "view_reviews"  # the review queue and event pages
    decide = "decide"  # ticket or dismiss a pending review
    supervise = "supervise"  # see and clear the escalated queue
    view_dashboard = "view_dashboard"
    export = "export"  # CSV of tickets and dissuasions
    manage_users = "manage_users"
    file_reports = "file_reports"  # road-warden field reports (issue 6)
    handle_reports = "handle_reports"  # acknowledge / dispatch / resolve / reject them


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.officer: frozenset(
        {
            Permission.view_reviews,
            Permission.decide,
            Permission.view_dashboard,
            Permission.export,
            Permission.handle_reports,
        }
    ),
    Role.supervisor: frozenset(
        {
            Permission.view_reviews,
            Permission.decide,
            Permission.supervise,
            Permission.view_dashboard,
            Permission.export,
            Permission.handle_reports,
        }
    ),
    Role.warden: frozenset({Permission.file_reports}),
    Role.admin: frozenset(
        {
            Permission.view_reviews,
            Permission.view_dashboard,
            Permission.export,
            Permission.manage_users,
            Permission.handle_reports,  # the top of the escalation chain
        }
    ),
}


def can(role: str | Role, permission: Permission) -> bool:
    try:
        return permission in ROLE_PERMISSIONS[Role(role)]
    except ValueError:
        return False
