"""One plate per episode from many noisy reads: vote, character by character.

A parked car is seen in hundreds of frames; any one read may drop or swap a character
(glare, motion, a passer-by). The plate feeds the second warning and re-ticket
suppression, so a wrong plate is worse than none: a plate is decided only when the reads
agree. Votes are cast per character position among reads of the same format length, each
weighted by its confidence, so three reads that each got a different character wrong can
still agree on the plate, while two reads that disagree at one position decide nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from models.plates.formats import Plate, parse_plate

__all__ = ["PlateVote", "VotedPlate"]


@dataclass(frozen=True)
class VotedPlate:
    """The decided plate, how many reads it rests on, and its weakest position's share of the
    vote (1.0: every read agreed at every position)."""

    plate: Plate
    votes: int
    agreement: float


class PlateVote:
    """Accumulates one vehicle's plate reads (one `PlateVote` per episode) and decides.

    - `min_votes`: reads that must back the winning character at every position.
    - `min_agreement`: the winning character's least share of the confidence-weighted vote
      at any position; below it the reads disagree and nothing is decided.
    - `sure_confidence`: a single read this confident decides on its own while no other read
      of the same length exists (a clean close-up read need not wait for a second frame).

    Reads that fit no plate format are not votes: they are counted in `rejected` only.
    """

    def __init__(
        self, min_votes: int = 2, min_agreement: float = 0.6, sure_confidence: float = 0.97
    ) -> None:
        if min_votes < 1:
            raise ValueError("min_votes must be at least 1")
        self.min_votes, self.min_agreement = min_votes, min_agreement
        self.sure_confidence = sure_confidence
        self._reads: list[tuple[Plate, float]] = []
        self.rejected = 0

    def __len__(self) -> int:
        """Valid reads so far."""
        return len(self._reads)

    def add(self, text: str | Plate | None, confidence: float) -> VotedPlate | None:
        """Count one read (None or an invalid string counts as rejected); returns the decision
        so far, as `decision` would."""
        plate = text if isinstance(text, Plate) else parse_plate(text) if text else None
        if plate is None:
            self.rejected += 1
        else:
            self._reads.append((plate, min(max(float(confidence), 0.0), 1.0)))
        return self.decision

    @property
    def decision(self) -> VotedPlate | None:
        """The plate the reads agree on, or None while they do not (yet)."""
        if not self._reads:
            return None
        by_length: dict[int, list[tuple[Plate, float]]] = defaultdict(list)
        for plate, confidence in self._reads:
            by_length[len(plate.text)].append((plate, confidence))
        # The format length most of the confidence is on (a new-energy plate read with a
        # dropped character is a blue-plate length but loses to its correct reads).
        reads = max(by_length.values(), key=lambda rs: sum(c for _, c in rs))
        if len(reads) == 1:
            plate, confidence = reads[0]
            solo = self.min_votes == 1 or (
                confidence >= self.sure_confidence and len(by_length) == 1
            )
            return VotedPlate(plate, 1, 1.0) if solo else None
        return self._vote(reads)

    def _vote(self, reads: list[tuple[Plate, float]]) -> VotedPlate | None:
        chars, weakest, backing = [], 1.0, len(reads)
        for position in range(len(reads[0][0].text)):
            weight: dict[str, float] = defaultdict(float)
            count: dict[str, int] = defaultdict(int)
            for plate, confidence in reads:
                char = plate.text[position]
                weight[char] += confidence
                count[char] += 1
            winner = max(weight, key=lambda c: (weight[c], count[c]))
            total = sum(weight.values())
            share = weight[winner] / total if total > 0 else count[winner] / len(reads)
            weakest, backing = min(weakest, share), min(backing, count[winner])
            chars.append(winner)
        if backing < self.min_votes or weakest < self.min_agreement:
            return None
        plate = parse_plate("".join(chars))
        return VotedPlate(plate, backing, weakest) if plate is not None else None
