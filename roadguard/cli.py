"""The `roadguard` command. Each package registers its own sub-commands, imported lazily so
that `roadguard detect` on an edge box never imports the centre and vice versa."""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from configbase.yaml_files import InvalidFile
from roadguard import __version__

# Modules exposing `register(subparsers)`; each adds its commands with a `func` default.
COMMAND_MODULES = (
    "models.cli",
    "cameras.cli",
    "edge.cli",
    "announcer.cli",
    "central.cli",
    "mqtt.cli",
    "roadguard.demo",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="roadguard", description=__doc__)
    parser.add_argument("--version", action="version", version=f"roadguard {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:  # an extra that is not installed on this box
            logging.getLogger(__name__).debug("commands of %s unavailable: %s", name, exc)
            continue
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not args.verbose:  # alembic says a dozen INFO lines on every start; central.db says
        logging.getLogger("alembic").setLevel(logging.WARNING)  # the one that matters
    try:
        return int(args.func(args) or 0)
    except InvalidFile as exc:  # a county's YAML (categories, sites, site config): say where
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
