"""`N_`: marks an English string where it is defined, for the message catalogues; it is
translated where it is shown (`central.web.i18n`). A leaf, so any layer may mark text."""


def N_(message: str) -> str:
    return message
