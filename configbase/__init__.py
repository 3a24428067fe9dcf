"""What every RoadGuard package's configuration shares: one strict pydantic base, one way to
read a YAML file into a model with errors that name file:line: key, the data directory and
the software version.

A leaf package: it imports nothing of RoadGuard's, so cameras/, models/, announcer/, mqtt/,
edge/ and central/ can all stand on it without reaching up into the `roadguard` command.
"""

from configbase.models import StrictModel
from configbase.paths import data_dir
from configbase.version import SOFTWARE_VERSION
from configbase.yaml_files import InvalidFile, load_yaml, parse_yaml, validate_data

__all__ = [
    "SOFTWARE_VERSION",
    "InvalidFile",
    "StrictModel",
    "data_dir",
    "load_yaml",
    "parse_yaml",
    "validate_data",
]
