"""The centre's languages: Babel message catalogues, for the pages (behind Jinja2's i18n
extension, `central.web.i18n`) and for what the centre says to other systems (alerts).

The catalogues are the `.po` files in `central/locale/<language>/LC_MESSAGES/` (English is
the source language: its messages are the msgids). They are compiled in memory when first
used, so there is no build step to forget and nothing to download. A page's language is,
in order: the signed-in user's choice, the visitor's choice in the session (the login
page), the deployment's default (`ui.default_language`).

Maintainers: `make messages` extracts every marked string into `messages.pot` and merges
it into each catalogue; `tests/central/test_i18n.py` fails while a msgid lacks a
translation or a template holds text outside `_()` / `{% trans %}`.
"""

from __future__ import annotations

import gettext
from functools import cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
SOURCE_LANGUAGE = "en"
# Each language as the switch shows it: in its own words.
LANGUAGES = {"zh_CN": "中文", "en": "English"}
# BCP 47 tags for <html lang> and the browser.
HTML_LANG = {"zh_CN": "zh-CN", "en": "en"}


@cache
def translations(language: str) -> gettext.NullTranslations:
    """The compiled catalogue of `language` (the source language translates to itself)."""
    if language == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as po:
        catalog = read_po(po, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


def choose_language(user_choice: str | None, session_choice: str | None, default: str) -> str:
    for language in (user_choice, session_choice):
        if language in LANGUAGES:
            return language
    return default
