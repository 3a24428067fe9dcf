"""The Chinese plate format validator: real formats accepted, OCR noise normalised,
impossible strings refused (a refused string never becomes a cooldown key)."""

from __future__ import annotations

import pytest

from models.plates.formats import PROVINCES, PlateKind, normalise, parse_plate, search_plate

VALID = [
    # ordinary (blue or yellow: same text)
    ("京A12345", "京A12345", PlateKind.ORDINARY),
    ("沪E6K789", "沪E6K789", PlateKind.ORDINARY),
    ("苏E·CL368", "苏ECL368", PlateKind.ORDINARY),  # two letters: personalised
    ("粤B 1234Z", "粤B1234Z", PlateKind.ORDINARY),
    # full-width characters and separators as OCR returns them
    ("浙Ａ·８８８８８", "浙A88888", PlateKind.ORDINARY),
    ("鲁B-1234F", "鲁B1234F", PlateKind.ORDINARY),
    ("京a12345", "京A12345", PlateKind.ORDINARY),
    # O and I never occur in a serial: they are 0 and 1
    ("京AO23I5", "京A02315", PlateKind.ORDINARY),
    # new energy, small: D/F first, last four digits
    ("粤BD12345", "粤BD12345", PlateKind.NEW_ENERGY_SMALL),
    ("沪AFA1234", "沪AFA1234", PlateKind.NEW_ENERGY_SMALL),
    ("京AD·O1234", "京AD01234", PlateKind.NEW_ENERGY_SMALL),
    # new energy, large: five digits then D/F
    ("浙B12345D", "浙B12345D", PlateKind.NEW_ENERGY_LARGE),
    ("川A98765F", "川A98765F", PlateKind.NEW_ENERGY_LARGE),
    # special suffixes
    ("京A1234警", "京A1234警", PlateKind.POLICE),
    ("粤A0123学", "粤A0123学", PlateKind.COACH),
    ("冀B1234挂", "冀B1234挂", PlateKind.TRAILER),
    ("粤Z1234港", "粤Z1234港", PlateKind.HK_MACAU),
    ("粤Z·A123澳", "粤ZA123澳", PlateKind.HK_MACAU),
]

INVALID = [
    ("", "empty"),
    ("京A1234", "too short"),
    ("京A1234567", "too long"),
    ("XA12345", "no province"),
    ("台A12345", "not a mainland province abbreviation"),
    ("京I12345", "authority letter I"),
    ("京O12345", "authority letter O"),
    ("京112345", "authority must be a letter"),
    ("京ABCD12", "three letters in an ordinary serial"),
    ("京AB?123", "punctuation in the serial"),
    ("京A12 3", "too short once spaces go"),
    ("京A1234京", "province character in the serial"),
    ("京AA12345", "8 characters but not D/F in a new-energy position"),
    ("京AD1234F", "both new-energy markers"),
    ("京AD12A45", "letter in the digit tail of a small new-energy plate"),
    ("京A1234AD", "letter in the digits of a large new-energy plate"),
    ("京A12345警", "suffix plate too long"),
    ("京A1234港", "cross-border suffix outside 粤Z"),
    ("京A123警4", "suffix not at the end"),
    ("LICENSE", "Latin text"),
    ("FNG Y39", "a foreign plate"),
]


@pytest.mark.parametrize(("raw", "text", "kind"), VALID)
def test_valid_plates_are_accepted_in_canonical_form(raw: str, text: str, kind: PlateKind):
    plate = parse_plate(raw)
    assert plate is not None, raw
    assert (plate.text, plate.kind) == (text, kind)


@pytest.mark.parametrize(("raw", "why"), INVALID)
def test_impossible_strings_are_refused(raw: str, why: str):
    assert parse_plate(raw) is None, why


def test_every_province_is_accepted_and_a_non_province_character_is_not():
    assert len(PROVINCES) == 31 == len(set(PROVINCES))
    for province in PROVINCES:
        assert parse_plate(f"{province}A12345") is not None
    for other in "中国车港澳台使领":
        assert parse_plate(f"{other}A12345") is None


def test_plate_parts_and_display_form():
    plate = parse_plate("粤BD12345")
    assert plate is not None
    assert (plate.province, plate.authority, plate.serial) == ("粤", "B", "D12345")
    assert plate.display == "粤B·D12345"
    assert str(plate) == "粤BD12345"


def test_normalise_folds_width_and_separators_but_keeps_the_province_letter():
    assert normalise(" 京Ａ・1２3 4 5 ") == "京A12345"
    # O/I are fixed in the serial only: an O in the authority position stays (and is refused)
    assert normalise("京O1234O") == "京O12340"


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        ("[云E819K8", "云E819K8"),  # the plate frame read as a bracket
        ("1京A12345", "京A12345"),
        ("皖辽X219U3", "辽X219U3"),  # a stray CJK character before the real province
        ("粤BD12345]", "粤BD12345"),  # the 8-character plate is kept whole, not cut to 7
        ("京A12345", "京A12345"),
    ],
)
def test_search_finds_the_plate_inside_stray_characters(raw: str, text: str):
    plate = search_plate(raw)
    assert plate is not None and plate.text == text


@pytest.mark.parametrize("raw", ["IC372D5", "京京京京京京京", "FNGY39", "京A1?345"])
def test_search_finds_nothing_in_text_without_a_plate(raw: str):
    assert search_plate(raw) is None
