"""Chinese plate formats (GA 36-2018): what a plate can be, so OCR noise is not taken for one.

The reader turns pixels into text; this module decides whether that text can be a plate at
all. A cooldown keyed on a plate must never be keyed on garbage ("京A·I2345" read off a
bumper sticker would otherwise suppress a real ticket), so anything that does not fit one of
the formats below is refused rather than guessed at.

Formats (province abbreviation + issuing-authority letter + serial):
- ordinary, blue (small vehicles) or yellow (large vehicles): 5 serial characters. The colour
  cannot be told from the text; `models.plates.colour` estimates it from the crop.
- new energy, small (green gradient): 6 serial characters, the first D (battery electric) or
  F (other new energy), the last four digits.
- new energy, large (yellow-green): 6 serial characters, five digits then D or F.
- police (警), driving-school (学), trailer (挂) and Hong Kong / Macau cross-border (港, 澳):
  4 serial characters and the suffix character.

Serial letters never include I or O (they read as 1 and 0), so an OCR'd I or O in a serial is
a 1 or a 0; the issuing-authority letter never is I either (O is reserved for police
vehicles in some provinces, which use the 警 format, and is refused elsewhere).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "PROVINCES",
    "Plate",
    "PlateKind",
    "normalise",
    "parse_plate",
    "search_plate",
]

# The 31 mainland province-level abbreviations used as the first character.
PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

# Letters that may appear on a plate: A-Z without I and O.
_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
_L = f"[{_LETTERS}]"
_ALNUM = f"[{_LETTERS}0-9]"
_NE_TYPE = "[DF]"

# Separators and decorations OCR returns between the authority letter and the serial.
_SEPARATORS = re.compile(r"[\s·•∙⋅・.\-_:：,，|'\"`]+")
# Characters OCR confuses with a digit where only a digit (or a non-I/O letter) may stand.
_TO_DIGIT = str.maketrans({"O": "0", "I": "1"})


class PlateKind(StrEnum):
    ORDINARY = "ordinary"  # blue or yellow
    NEW_ENERGY_SMALL = "new_energy_small"
    NEW_ENERGY_LARGE = "new_energy_large"
    POLICE = "police"
    COACH = "coach"
    TRAILER = "trailer"
    HK_MACAU = "hk_macau"


_SUFFIX_KINDS = {
    "警": PlateKind.POLICE,
    "学": PlateKind.COACH,
    "挂": PlateKind.TRAILER,
    "港": PlateKind.HK_MACAU,
    "澳": PlateKind.HK_MACAU,
}

# The serial (after province and authority letter) of each kind.
_SERIALS: dict[PlateKind, re.Pattern[str]] = {
    PlateKind.ORDINARY: re.compile(f"{_ALNUM}{{5}}"),
    PlateKind.NEW_ENERGY_SMALL: re.compile(f"{_NE_TYPE}{_ALNUM}[0-9]{{4}}"),
    PlateKind.NEW_ENERGY_LARGE: re.compile(f"[0-9]{{5}}{_NE_TYPE}"),
    PlateKind.POLICE: re.compile(f"{_ALNUM}{{4}}警"),
    PlateKind.COACH: re.compile(f"{_ALNUM}{{4}}学"),
    PlateKind.TRAILER: re.compile(f"{_ALNUM}{{4}}挂"),
    PlateKind.HK_MACAU: re.compile(f"{_ALNUM}{{4}}[港澳]"),
}
# An ordinary serial carries at most two letters (personalised plates); more is a misread.
_MAX_SERIAL_LETTERS = 2


@dataclass(frozen=True)
class Plate:
    """A plate number that fits a known format, in canonical form (no separator)."""

    text: str
    kind: PlateKind

    @property
    def province(self) -> str:
        return self.text[0]

    @property
    def authority(self) -> str:
        """The issuing-authority letter (the city or district within the province)."""
        return self.text[1]

    @property
    def serial(self) -> str:
        return self.text[2:]

    @property
    def display(self) -> str:
        """As printed on the plate, with the separator dot: 京A·12345."""
        return f"{self.text[:2]}·{self.text[2:]}"

    def __str__(self) -> str:
        return self.text


def normalise(raw: str) -> str:
    """OCR text in canonical plate form: full-width folded, separators dropped, upper case,
    and I/O in the serial read as 1/0 (letters no serial may hold).

    It does not decide validity: the result may still be refused by `parse_plate`.
    """
    text = unicodedata.normalize("NFKC", raw).upper()
    text = _SEPARATORS.sub("", text)
    if len(text) < 3:
        return text
    return text[:2] + text[2:].translate(_TO_DIGIT)


def parse_plate(raw: str) -> Plate | None:
    """The plate `raw` spells once normalised, or None when it fits no format."""
    text = normalise(raw)
    if len(text) not in (7, 8) or text[0] not in PROVINCES or text[1] not in _LETTERS:
        return None
    serial = text[2:]
    kind = _kind_of(serial)
    if kind is None:
        return None
    if kind is PlateKind.HK_MACAU and text[:2] != "粤Z":
        return None  # cross-border plates are issued by Guangdong's Z office only
    return Plate(text, kind)


def _kind_of(serial: str) -> PlateKind | None:
    if len(serial) == 5 and serial[-1] in _SUFFIX_KINDS:
        kind = _SUFFIX_KINDS[serial[-1]]
        return kind if _SERIALS[kind].fullmatch(serial) else None
    if len(serial) == 5:
        letters = sum(c.isascii() and c.isalpha() for c in serial)
        ok = _SERIALS[PlateKind.ORDINARY].fullmatch(serial) and letters <= _MAX_SERIAL_LETTERS
        return PlateKind.ORDINARY if ok else None
    if len(serial) == 6:
        for kind in (PlateKind.NEW_ENERGY_SMALL, PlateKind.NEW_ENERGY_LARGE):
            if _SERIALS[kind].fullmatch(serial):
                return kind
    return None


def search_plate(raw: str) -> Plate | None:
    """The plate in OCR text that may carry stray characters around it, or None.

    The plate's frame and bolts are often read as an extra character ("[云E819K8", "1京A12345")
    and a neighbouring sticker can run into the text. The whole text is tried first, then
    every 8- and 7-character window that starts on a province character, longest first, so
    a valid new-energy plate is never cut to a 7-character one.
    """
    plate = parse_plate(raw)
    if plate is not None:
        return plate
    text = normalise(raw)
    for length in (8, 7):
        for start in range(len(text) - length + 1):
            if text[start] in PROVINCES:
                plate = parse_plate(text[start : start + length])
                if plate is not None:
                    return plate
    return None
