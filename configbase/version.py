"""The software version every part reports (a node's birth message, the centre's pages):
the installed distribution's, so pyproject.toml is its one source."""

from __future__ import annotations

from importlib import metadata

try:
    SOFTWARE_VERSION = metadata.version("roadguard")
except metadata.PackageNotFoundError:  # run from a checkout that was never installed
    SOFTWARE_VERSION = "0+unknown"
