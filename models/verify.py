"""Check a converted NanoDet by what it computes, not by its bytes.

Two tf2onnx conversions of the same TFJS graph are byte-different (node names, constant
order) yet compute the same function, so a checksum cannot tell a good conversion from a bad
one. Instead the model runs on a reference input the project generates from a formula
(nothing to ship, no photo licence) and every output is compared, by shape, with statistics
and sampled values recorded in `models/reference/nanodet.json`, within a tolerance that absorbs
CPU-dependent float rounding but not a wrong conversion or wrong weights.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnxruntime as ort

from models.nanodet import NanoDetLayout

REFERENCE_PATH = Path(__file__).parent / "reference" / "nanodet.json"
SAMPLES_PER_OUTPUT = 64
DEFAULT_ATOL = 1e-3
DEFAULT_RTOL = 1e-3


@dataclass
class Verification:
    """The outcome of comparing a model's outputs with the reference."""

    passed: bool
    max_abs_error: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        if self.passed:
            return f"outputs match the reference (max abs error {self.max_abs_error:.2e})"
        return "outputs differ from the reference: " + "; ".join(self.problems)


def reference_image(size: int = 416) -> np.ndarray:
    """A deterministic, textured BGR image: smooth colour waves and a few solid shapes,
    generated at the model's input size so no resize interpolation enters the comparison."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    b = 128 + 100 * np.sin(x / 23 + 2 * np.cos(y / 37))
    g = 128 + 100 * np.sin(y / 19 + x / 53)
    r = 128 + 100 * np.cos((x + y) / 31) * np.sin(x / 17)
    image = np.stack([b, g, r], axis=2)
    image[size // 2 :, size // 8 : size // 2] = (40, 40, 40)  # a dark block
    image[size // 8 : size // 3, size // 2 :] = (230, 230, 230)  # a bright block
    return np.clip(np.round(image), 0, 255).astype(np.uint8)


def measure(model_path: Path) -> dict[str, dict]:
    """Statistics and sampled values of every output on the reference input, keyed by shape."""
    session = ort.InferenceSession(str(model_path), providers=["CPUExecutionProvider"])
    layout = NanoDetLayout.from_session(session)
    if layout is None:
        raise ValueError(f"{model_path} does not have NanoDet's outputs")
    tensor, _ = layout.prepare(reference_image(layout.input_size[0]))
    outputs = session.run(None, {layout.input_name: tensor})
    measured = {}
    for out in outputs:
        flat = out.astype(np.float64).ravel()
        indices = _sample_indices(flat.size)
        measured["x".join(map(str, out.shape))] = {
            "mean": float(flat.mean()),
            "std": float(flat.std()),
            "min": float(flat.min()),
            "max": float(flat.max()),
            "indices": indices.tolist(),
            "values": [float(v) for v in flat[indices]],
        }
    return measured


def _sample_indices(size: int) -> np.ndarray:
    return np.linspace(0, size - 1, SAMPLES_PER_OUTPUT).round().astype(np.int64)


def write_reference(model_path: Path, path: Path = REFERENCE_PATH) -> None:
    """Record a known-good model's outputs (done once, by hand, when the source changes)."""
    document = {
        "about": "NanoDet outputs on models.verify.reference_image(); see models/verify.py",
        "atol": DEFAULT_ATOL,
        "rtol": DEFAULT_RTOL,
        "outputs": measure(model_path),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=1) + "\n")


def verify(model_path: Path, reference_path: Path = REFERENCE_PATH) -> Verification:
    """Compare `model_path`'s outputs with the recorded reference."""
    reference = json.loads(reference_path.read_text())
    atol, rtol = float(reference["atol"]), float(reference["rtol"])
    try:
        measured = measure(model_path)
    except Exception as exc:  # a broken file is a failed verification, with the reason
        return Verification(False, float("inf"), [f"cannot run {model_path}: {exc}"])
    expected: dict[str, dict] = reference["outputs"]
    problems: list[str] = []
    if sorted(measured) != sorted(expected):
        problems.append(f"output shapes {sorted(measured)} != reference {sorted(expected)}")
    worst = 0.0
    for shape in sorted(set(measured) & set(expected)):
        got, want = measured[shape], expected[shape]
        for key in ("mean", "std", "min", "max"):
            worst = max(worst, _check(f"{shape} {key}", got[key], want[key], atol, rtol, problems))
        if got["indices"] != want["indices"]:
            problems.append(f"{shape}: sampled indices differ")
            continue
        for index, g, w in zip(want["indices"], got["values"], want["values"], strict=True):
            worst = max(worst, _check(f"{shape}[{index}]", g, w, atol, rtol, problems))
    return Verification(not problems, worst, problems[:5])


def _check(what: str, got: float, want: float, atol: float, rtol: float, problems: list) -> float:
    error = abs(got - want)
    if error > atol + rtol * abs(want):
        problems.append(f"{what} = {got:.6g}, expected {want:.6g}")
    return error
