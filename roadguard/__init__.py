"""RoadGuard: the command line and the whole-system demo."""

from configbase import SOFTWARE_VERSION as __version__

__all__ = ["__version__"]
