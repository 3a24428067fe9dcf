"""The Jinja2 environment shared by the pages (filters for times and deadlines), and `page`,
which renders one with what every page needs: the user, the CSRF token, the time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from central.episodes.workflow import DISMISS_REASON_LABELS, DismissReason
from central.roles import Actor, Permission
from central.web.auth import csrf_token

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

templates = Jinja2Templates(directory=TEMPLATES)


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


def duration(seconds: float) -> str:
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min"
    return f"{secs} s"


def reason_label(code: str | None) -> str:
    try:
        return DISMISS_REASON_LABELS[DismissReason(code or "")]
    except ValueError:
        return code or ""


templates.env.filters["when"] = when
templates.env.filters["duration"] = duration
templates.env.filters["reason_label"] = reason_label
templates.env.globals["DISMISS_REASONS"] = list(DISMISS_REASON_LABELS.items())


def page(request: Request, name: str, user: Actor | None, **context: object) -> Response:
    """Template `name` rendered for `user`, with the session's CSRF token and the centre's
    clock (a fake one in tests)."""
    return templates.TemplateResponse(
        request,
        name,
        {
            "user": user,
            "csrf": csrf_token(request),
            "now": request.app.state.centre.clock.now(),
            "Permission": Permission,
            **context,
        },
    )
