"""Edge commands: `config check`, `edge run` (filled in below as edge/ grows)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    pass
