"""Voting a plate over an episode's reads: agreement decides, disagreement does not."""

from __future__ import annotations

import pytest

from models.plates.formats import parse_plate
from models.plates.voting import PlateVote


def test_one_ordinary_read_decides_nothing():
    vote = PlateVote()
    assert vote.add("京A12345", 0.9) is None
    assert len(vote) == 1


def test_two_agreeing_reads_decide():
    vote = PlateVote()
    vote.add("京A12345", 0.9)
    decided = vote.add("京A·12345", 0.85)  # a separator is not a disagreement
    assert decided is not None
    assert decided.plate.text == "京A12345" and decided.votes == 2 and decided.agreement == 1.0


def test_one_very_confident_read_decides_alone():
    vote = PlateVote(sure_confidence=0.97)
    decided = vote.add("粤BD12345", 0.99)
    assert decided is not None and decided.plate.text == "粤BD12345" and decided.votes == 1


def test_two_reads_that_disagree_decide_nothing():
    vote = PlateVote()
    vote.add("京A12345", 0.9)
    assert vote.add("京A12346", 0.9) is None


def test_per_character_voting_outvotes_a_single_slip():
    vote = PlateVote()
    for text in ("京A12345", "京A12846", "京A12345", "京A17345"):
        vote.add(text, 0.9)
    decided = vote.decision
    assert decided is not None and decided.plate.text == "京A12345"
    assert decided.votes == 3  # the weakest position (the 4th, 5th, 7th) had 3 of 4 reads


def test_per_character_voting_recovers_a_plate_no_single_read_got_right():
    reads = ("京A1Z345", "京A12845", "京A12346", "京A72345", "京A12355")
    assert "京A12345" not in reads
    vote = PlateVote()
    for text in reads:
        vote.add(text, 0.9)
    decided = vote.decision
    assert decided is not None and decided.plate.text == "京A12345" and decided.votes == 4


def test_confidence_weights_the_vote():
    vote = PlateVote(min_votes=1, min_agreement=0.5)
    vote.add("京A12345", 0.95)
    vote.add("京A12346", 0.30)
    decided = vote.decision
    assert decided is not None and decided.plate.text == "京A12345"


def test_invalid_reads_are_not_votes():
    vote = PlateVote()
    for text in ("FNGY39", "京A1234", "", None, "京I12345"):
        assert vote.add(text, 0.99) is None
    assert vote.rejected == 5 and len(vote) == 0


def test_a_dropped_character_loses_to_the_full_length_reads():
    vote = PlateVote()
    vote.add("粤BD12345", 0.9)
    vote.add("粤B12345", 0.6)  # a new-energy plate read with its D dropped: still "valid"
    vote.add("粤BD12345", 0.9)
    decided = vote.decision
    assert decided is not None and decided.plate.text == "粤BD12345"


def test_a_confident_read_does_not_decide_alone_against_a_read_of_another_length():
    vote = PlateVote()
    vote.add("粤BD12345", 0.99)
    vote.add("粤B12345", 0.95)
    assert vote.decision is None


def test_plates_are_accepted_as_well_as_strings():
    vote = PlateVote()
    plate = parse_plate("沪E6K789")
    vote.add(plate, 0.9)
    assert vote.add(plate, 0.9) is not None


def test_min_votes_must_be_positive():
    with pytest.raises(ValueError):
        PlateVote(min_votes=0)
