"""The pages' side of `central.i18n`: `_()` and `ngettext()` in a template speak the page's
language (`language` in its context)."""

from __future__ import annotations

from jinja2 import pass_context
from jinja2.runtime import Context

from central.i18n import (
    HTML_LANG,
    LANGUAGES,
    LOCALE_DIR,
    SOURCE_LANGUAGE,
    choose_language,
    translations,
)

__all__ = [
    "HTML_LANG",
    "LANGUAGES",
    "LOCALE_DIR",
    "choose_language",
    "context_gettext",
    "context_ngettext",
    "translations",
]


@pass_context
def context_gettext(context: Context, message: str) -> str:
    """`_()` in a template, in the page's language (`language` in its context)."""
    return translations(context.get("language", SOURCE_LANGUAGE)).gettext(message)


@pass_context
def context_ngettext(context: Context, singular: str, plural: str, n: int) -> str:
    return translations(context.get("language", SOURCE_LANGUAGE)).ngettext(singular, plural, n)
