"""Model commands: `models prepare`, `detect` (filled in by the models work)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
