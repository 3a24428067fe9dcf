"""The centre's web side: officers' pages and the JSON API (FastAPI)."""

from central.web.app import create_app

__all__ = ["create_app"]
