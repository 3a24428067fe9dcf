"""The optional plate reader: Chinese plate formats, OCR on vehicle crops, voting per episode.

`formats` and `voting` are pure Python; `reader` needs the `plates` extra (RapidOCR) only
when it first reads, so `import models.plates` works on any install.
"""

from models.plates.colour import plate_colour
from models.plates.formats import PROVINCES, Plate, PlateKind, normalise, parse_plate, search_plate
from models.plates.reader import OcrPlateReader, PlateEngineMissing, PlateReading
from models.plates.voting import PlateVote, VotedPlate

__all__ = [
    "PROVINCES",
    "OcrPlateReader",
    "Plate",
    "PlateEngineMissing",
    "PlateKind",
    "PlateReading",
    "PlateVote",
    "VotedPlate",
    "normalise",
    "parse_plate",
    "plate_colour",
    "search_plate",
]
