"""Who acts, and what they may do. One `Actor` and one permission table, read by the
workflows, the queries and the web layer alike, so the JSON API and the pages cannot
disagree about a warden trying to issue a ticket."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from central.models import Role, User


class Permission(enum.StrEnum):
    view_reviews = "view_reviews"  # the review queue and event pages
    decide = "decide"  # ticket or dismiss a pending review
    supervise = "supervise"  # see and clear the escalated queue
    view_dashboard = "view_dashboard"
    export = "export"  # CSV of tickets and dissuasions
    manage_users = "manage_users"
    file_reports = "file_reports"  # road-warden field reports
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


@dataclass(frozen=True)
class Actor:
    """Whoever acts at the centre: a signed-in user, an API key's owner, or the system
    (`node:gate-7`, `scheduler`). Officers act within their squad, wardens file reports for
    their township; the audit records `username`."""

    username: str
    role: str
    squad: str | None = None
    township: str | None = None
    display_name: str = ""
    id: int | None = None
    language: str | None = None  # chosen on the pages; None: the deployment's default

    def can(self, permission: Permission) -> bool:
        return can(self.role, permission)

    @classmethod
    def of(cls, user: User) -> Actor:
        return cls(
            user.username,
            user.role,
            user.squad,
            user.township,
            user.display_name,
            user.id,
            user.language,
        )
