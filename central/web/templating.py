"""The Jinja2 environment shared by the pages, and `page`, which renders one with what every
page needs: the user, the CSRF token, the time, the language and the time zone.

Text is translated with Jinja2's i18n extension (`_()`, `{% trans %}`) from the Babel
catalogues of `central.web.i18n`; times are shown in the deployment's time zone.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader, pass_context, select_autoescape
from jinja2.runtime import Context

from central import labels
from central.clock import utc
from central.episodes.workflow import DISMISS_REASON_LABELS, DismissReason
from central.roles import Actor, Permission
from central.text import N_
from central.users import display_names
from central.web.auth import csrf_token
from central.web.i18n import (
    HTML_LANG,
    LANGUAGES,
    choose_language,
    context_gettext,
    context_ngettext,
    translations,
)

TEMPLATES = Path(__file__).resolve().parent.parent / "templates"

templates = Jinja2Templates(
    env=Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(),
        extensions=["jinja2.ext.i18n"],
    )
)
templates.env.install_gettext_callables(  # type: ignore[attr-defined]
    context_gettext, context_ngettext, newstyle=True
)


def _translate(context: Context, message: str) -> str:
    return translations(context.get("language", "en")).gettext(message)


@pass_context
def when(context: Context, value: datetime | None) -> str:
    """A stored time as the wall-clock time of the deployment's zone."""
    if value is None:
        return "—"
    return utc(value).astimezone(context.get("zone")).strftime("%Y-%m-%d %H:%M:%S")


@pass_context
def duration(context: Context, seconds: float) -> str:
    seconds = abs(int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return _translate(context, N_("%(h)d h %(m)02d min")) % {"h": hours, "m": minutes}
    if minutes:
        return _translate(context, N_("%(m)d min")) % {"m": minutes}
    return _translate(context, N_("%(s)d s")) % {"s": secs}


def _in_words(context: Context, table: dict[str, str], code: Any) -> Any:
    """A code in the reader's words when `table` knows it; as it is otherwise."""
    return _translate(context, table[code]) if code in table else code


def _label(table: dict[str, str]):
    @pass_context
    def label(context: Context, code: str | None) -> str:
        return _in_words(context, table, code) or ""

    return label


@pass_context
def reason_label(context: Context, code: str | None) -> str:
    """An audit reason in the reader's words: a dismissal reason, or a move's meaning."""
    if code in labels.REASONS:
        return _translate(context, labels.REASONS[code])
    try:
        return _translate(context, DISMISS_REASON_LABELS[DismissReason(code or "")])
    except ValueError:
        return (code or "").replace("_", " ")


@pass_context
def translate(context: Context, message: str, **values: object) -> str:
    """A message known only at run time (marked with N_ where it was written), translated
    and filled in: `{{ problem.template | translate(**problem.values) }}`. Values that are
    codes (a role, a state, a permission, an action) are said in words too."""
    text = _translate(context, message)
    if not values:
        return text
    words = {
        name: _in_words(context, labels.VALUE_WORDS[name], value)
        if name in labels.VALUE_WORDS
        else value
        for name, value in values.items()
    }
    return text % words


@pass_context
def site_name(context: Context, node_id: str | None) -> str:
    """A site as people call it (from the sites file), its node id when it is not listed."""
    return context.get("site_names", {}).get(node_id, node_id or "")


templates.env.filters["site_name"] = site_name
templates.env.filters["when"] = when
templates.env.filters["translate"] = translate
templates.env.filters["duration"] = duration
templates.env.filters["reason_label"] = reason_label
templates.env.filters["state_label"] = _label(labels.STATES)
templates.env.filters["role_label"] = _label(labels.ROLES)
templates.env.filters["vehicle_label"] = _label(labels.VEHICLES)
templates.env.filters["source_label"] = _label(labels.LOCATION_SOURCES)
templates.env.filters["announcement_label"] = _label(labels.ANNOUNCEMENT_STATUSES)
templates.env.globals["DISMISS_REASONS"] = list(DISMISS_REASON_LABELS.items())
templates.env.globals["LANGUAGES"] = LANGUAGES
templates.env.globals["field_labels"] = labels.FIELDS


class People:
    """`person(login)` in a template: the display name, looked up once per page on first use
    (most pages name nobody)."""

    def __init__(self, request: Request, language: str) -> None:
        self._centre = request.app.state.centre
        self._names: dict[str, str] | None = None
        self._translate = translations(language).gettext

    def __call__(self, username: str | None) -> str:
        if not username:
            return ""
        if username in labels.SYSTEM_ACTORS:
            return self._translate(labels.SYSTEM_ACTORS[username])
        if username.startswith("node:"):
            return self._translate(N_("edge node %(node)s")) % {"node": username[5:]}
        if self._names is None:
            with self._centre.db.session() as session:
                self._names = display_names(session)
        return self._names.get(username, username)


def page_language(request: Request, user: Actor | None) -> str:
    """The language of the pages for this request (see `central.web.i18n`)."""
    settings = request.app.state.centre.settings
    chosen = request.session.get("language") if "session" in request.scope else None
    return choose_language(user.language if user else None, chosen, settings.ui.default_language)


def page_context(request: Request, user: Actor | None) -> dict[str, Any]:
    """What every page is rendered with (also the error page, which has no user)."""
    language = page_language(request, user)
    return {
        "user": user,
        "language": language,
        "html_lang": HTML_LANG[language],
        "zone": request.app.state.centre.settings.ui.zone,
        "now": request.app.state.centre.clock.now(),
        "person": People(request, language),
        "services": request.app.state.centre.categories.localized(language),
        "poll_ms": request.app.state.centre.settings.queue_poll_ms,  # live parts refresh
        "site_names": {site.node_id: site.name for site in request.app.state.centre.sites},
        "Permission": Permission,
    }


def page(request: Request, name: str, user: Actor | None, **context: object) -> Response:
    """Template `name` rendered for `user`, with the session's CSRF token and the centre's
    clock (a fake one in tests). A whole page (not a `_partial` refreshed in place) also
    shows, once, the undo toast of the decision just taken."""
    undo = request.session.pop("undo", None) if not name.startswith("_") else None
    if undo is not None:
        now = request.app.state.centre.clock.now()
        left = (datetime.fromisoformat(undo["until"]) - now).total_seconds()
        undo = {**undo, "seconds_left": round(left, 1)} if left > 0 else None
    return templates.TemplateResponse(
        request,
        name,
        {**page_context(request, user), "csrf": csrf_token(request), "undo": undo, **context},
    )
