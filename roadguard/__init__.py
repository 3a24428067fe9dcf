"""RoadGuard: the command line and the pieces every package shares (data directory)."""

__version__ = "0.1.0"
